"""Scenario bags: real rosbag2 files (mcap and sqlite3) read back with rosbags' AnyReader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader
from rosbags.image import message_to_cvimage

from cosmos_reason_ros.exits import ExitCode
from cosmos_reason_ros.tools.scenario import (
    ACTIONS,
    ALERT_RULES,
    EVENTS,
    FRAME_ID,
    START_NS,
    ScenarioError,
    load_labels,
    main,
    write_scenario,
)

W, H, RATE, DURATION = 160, 120, 10.0, 1.5  # 15 frames


def _read(bag: Path) -> dict[str, list[tuple[int, object, bytes]]]:
    """topic -> [(log time, message, raw CDR bytes)] in bag order."""
    out: dict[str, list[tuple[int, object, bytes]]] = {}
    with AnyReader([bag]) as reader:
        for conn, stamp, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            out.setdefault(conn.topic, []).append((stamp, msg, bytes(raw)))
    return out


@pytest.mark.parametrize(("suffix", "storage"), [(".mcap", "mcap"), (".db3", "sqlite3")])
def test_scenario_writes_readable_bag_in_both_storage_formats(
    tmp_path: Path, suffix: str, storage: str
) -> None:
    info = write_scenario(
        tmp_path / f"ball{suffix}",
        duration_s=DURATION,
        rate_hz=RATE,
        width=W,
        height=H,
        compressed=True,
    )
    assert info.bag_path == tmp_path / "ball"
    assert info.storage == storage
    assert (info.bag_path / "metadata.yaml").is_file()
    assert (info.bag_path / f"ball{suffix}").is_file()
    assert (
        yaml.safe_load((info.bag_path / "metadata.yaml").read_text())[
            "rosbag2_bagfile_information"
        ]["storage_identifier"]
        == storage
    )

    topics = _read(info.bag_path)
    assert set(topics) == {"/camera/image_raw", "/camera/image_raw/compressed"}
    assert info.topics == ("/camera/image_raw", "/camera/image_raw/compressed")
    for records in topics.values():
        assert len(records) == 15
        header_stamps = [
            m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m, _ in records
        ]  # type: ignore[attr-defined]
        assert header_stamps == [START_NS + i * 100_000_000 for i in range(15)]
        assert [t for t, _, _ in records] == header_stamps  # log time = camera time
        assert tuple(header_stamps) == info.stamps_ns
        assert {m.header.frame_id for _, m, _ in records} == {FRAME_ID}  # type: ignore[attr-defined]


def test_scenario_images_decode_to_the_requested_size_and_jpeg_matches_raw(
    tmp_path: Path,
) -> None:
    info = write_scenario(
        tmp_path / "fall.mcap",
        event="object_falling",
        duration_s=DURATION,
        rate_hz=RATE,
        width=W,
        height=H,
        compressed=True,
    )
    topics = _read(info.bag_path)
    raw_msgs = [m for _, m, _ in topics["/camera/image_raw"]]
    jpeg_msgs = [m for _, m, _ in topics["/camera/image_raw/compressed"]]
    assert {m.encoding for m in raw_msgs} == {"rgb8"}  # type: ignore[attr-defined]
    for raw, jpeg in zip(raw_msgs, jpeg_msgs, strict=True):
        rgb = message_to_cvimage(raw, "rgb8")
        from_jpeg = message_to_cvimage(jpeg, "rgb8")
        assert rgb.shape == from_jpeg.shape == (H, W, 3)
        assert rgb.dtype == np.uint8
        # JPEG is lossy; the same picture stays within a small mean error.
        assert np.abs(rgb.astype(int) - from_jpeg.astype(int)).mean() < 6.0
    first = message_to_cvimage(raw_msgs[0], "rgb8").astype(int)
    last = message_to_cvimage(raw_msgs[-1], "rgb8").astype(int)
    assert np.abs(first - last).mean() > 0.5, "the scene must change over the clip"


@pytest.mark.parametrize("event", EVENTS)
def test_labels_file_states_event_time_and_expected_actions(tmp_path: Path, event: str) -> None:
    info = write_scenario(
        tmp_path / f"{event}.db3", event=event, duration_s=3.0, rate_hz=RATE, width=W, height=H
    )
    assert info.labels_path == tmp_path / f"{event}.labels.yaml"
    data = yaml.safe_load(info.labels_path.read_text())
    assert data["event"]["name"] == event
    assert data["event"]["time_ns"] == START_NS + 1_000_000_000  # a third into 3 s at 10 Hz
    assert data["event"]["time_from_start_ns"] == 1_000_000_000
    assert data["event"]["time_from_start_s"] == pytest.approx(1.0)
    assert data["topics"] == ["/camera/image_raw"]
    assert data["expected_actions"]
    assert set(data["expected_actions"]) <= set(ACTIONS)
    # A look-alike of an alert event (nobody falls, nothing smokes) does not call for a stop.
    lookalike = event in ("person_sitting", "machine_blinking")
    assert ("stop" in data["expected_actions"]) is not lookalike
    assert data["actions"] == list(ACTIONS)

    labels = load_labels(info.labels_path)
    assert labels == info.labels
    assert labels.event_time_ns in info.stamps_ns
    assert labels.event_time_from_start_s == pytest.approx(1.0)


def test_same_arguments_give_the_same_message_bytes(tmp_path: Path) -> None:
    kwargs = dict(
        event="person_crossing",
        duration_s=1.0,
        rate_hz=RATE,
        width=W,
        height=H,
        compressed=True,
        seed=7,
    )
    a = write_scenario(tmp_path / "a.mcap", **kwargs)  # type: ignore[arg-type]
    b = write_scenario(tmp_path / "b.db3", **kwargs)  # type: ignore[arg-type]
    c = write_scenario(tmp_path / "c.mcap", **{**kwargs, "seed": 8})  # type: ignore[arg-type]
    bytes_a = {t: [r for _, _, r in recs] for t, recs in _read(a.bag_path).items()}
    bytes_b = {t: [r for _, _, r in recs] for t, recs in _read(b.bag_path).items()}
    bytes_c = {t: [r for _, _, r in recs] for t, recs in _read(c.bag_path).items()}
    assert bytes_a == bytes_b
    assert bytes_a != bytes_c, "the seed must change the sensor noise"


def test_writing_over_an_existing_bag_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    write_scenario(tmp_path / "x.mcap", duration_s=0.5, rate_hz=RATE, width=W, height=H)
    with pytest.raises(ScenarioError, match="exists already"):
        write_scenario(tmp_path / "x.mcap", duration_s=0.5, rate_hz=RATE, width=W, height=H)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"event": "meteor"}, "event must be one of"),
        ({"rate_hz": 0.0}, "rate_hz must be in"),
        ({"width": 8}, "width and height"),
        ({"duration_s": 0.1}, "at least 2 frames"),
        ({"topic": "camera"}, "absolute topic name"),
    ],
)
def test_bad_arguments_raise_scenario_error_naming_the_argument(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"duration_s": 1.0, "rate_hz": RATE, "width": W, "height": H}
    args.update(kwargs)
    with pytest.raises(ScenarioError, match=message):
        write_scenario(tmp_path / "bad.mcap", **args)  # type: ignore[arg-type]
    assert not (tmp_path / "bad").exists()


def test_console_script_writes_bag_and_reports_errors_by_exit_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.db3"
    argv = [
        str(out),
        "--event",
        "person_crossing",
        "--duration-s",
        "1",
        "--rate-hz",
        "4",
        "--width",
        "64",
        "--height",
        "48",
        "--topic",
        "/front/image",
        "--compressed",
    ]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    topics = _read(tmp_path / "cli")
    assert {t: len(r) for t, r in topics.items()} == {
        "/front/image": 4,
        "/front/image/compressed": 4,
    }
    assert main(argv) == ExitCode.INPUT
    assert "exists already" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("event", "positive"),
    [
        ("person_falling", "person_fallen"),
        ("person_sitting", None),
        ("machine_smoking", "machine_smoke"),
        ("machine_blinking", None),
        ("ball_rolling", None),
    ],
)
def test_every_scenario_labels_the_alert_rules_with_events_only_where_they_hold(
    tmp_path: Path, event: str, positive: str | None
) -> None:
    """Each bag is labelled for every rule of ``ALERT_RULES``: the rule its event makes true
    holds from the event's start to the last frame; in a look-alike or another event no rule
    holds, so any RAISED there is a false alarm."""
    info = write_scenario(tmp_path / f"{event}.mcap", event=event, duration_s=3.0, rate_hz=10.0)
    labels = load_labels(info.labels_path)
    assert [a.rule for a in labels.alerts] == list(ALERT_RULES)
    assert {a.rule: a.condition for a in labels.alerts} == ALERT_RULES
    for label in labels.alerts:
        if label.rule == positive:
            assert label.events == ((labels.event_time_ns, info.stamps_ns[-1]),)
        else:
            assert label.events == ()
