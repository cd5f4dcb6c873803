"""``lva-extension serve``, ``send`` and ``sample-clip`` as a user runs them."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from tests.support.processes import mapped_paths, run_command, server_process


@pytest.fixture(scope="module")
def serve():
    with server_process() as running:
        yield running


def inference_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize("transfer", [[], ["--shm"]], ids=["embedded", "shm"])
def test_send_prints_one_inference_json_line_per_frame(serve, transfer, shm_dir_clean):
    result = run_command("send", "--address", serve.address, "--frames", "45", *transfer)

    assert result.returncode == 0, result.stderr
    lines = inference_lines(result.stdout)
    assert len(lines) == 45
    expected = ["dark"] * 15 + ["light"] * 15 + ["dark"] * 15
    by_time = sorted(lines, key=lambda m: m["timestamp"])
    assert [m["inferences"][0]["classification"]["tag"]["value"] for m in by_time] == expected
    assert "45/45 frames acknowledged" in result.stderr


def test_server_unmaps_shared_memory_when_the_stream_ends(serve, shm_dir_clean):
    result = run_command("send", "--address", serve.address, "--frames", "10", "--shm", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "lva-extension-client" not in mapped_paths(serve.pid)
    fds = os.listdir(f"/proc/{serve.pid}/fd")
    links = [os.readlink(f"/proc/{serve.pid}/fd/{fd}") for fd in fds]
    assert not [link for link in links if link.startswith("/dev/shm")]


def test_video_file_through_the_server(serve, tmp_path: Path):
    clip = tmp_path / "clip.mp4"
    made = run_command(
        "sample-clip", str(clip), "--frames", "30", "--width", "160", "--height", "120"
    )
    assert made.returncode == 0, made.stderr

    result = run_command(
        "send",
        "--address",
        serve.address,
        "--video",
        str(clip),
        "--width",
        "160",
        "--height",
        "120",
        "--encoding",
        "jpg",
    )

    assert result.returncode == 0, result.stderr
    by_time = sorted(inference_lines(result.stdout), key=lambda m: m["timestamp"])
    tags = [m["inferences"][0]["classification"]["tag"]["value"] for m in by_time]
    assert tags == ["dark"] * 15 + ["light"] * 15


def test_send_reports_a_refused_stream(serve):
    result = run_command("send", "--address", serve.address, "--frames", "2", "--config", "nope")
    assert result.returncode == 1
    assert "INVALID_ARGUMENT: unknown processor 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_send_names_a_missing_video(serve, tmp_path):
    result = run_command("send", "--address", serve.address, "--video", str(tmp_path / "none.mp4"))
    assert result.returncode == 2
    assert "none.mp4" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--batch-size", "0"], "batchSize: expected at least 1, got 0"),
        (["--default-processor", "nope"], "defaultProcessor: unknown processor 'nope'; known"),
        (
            ["--default-processor", '{"processor": "colorIntensity", "threshold": 999}'],
            "defaultProcessor: processor 'colorIntensity' options: threshold must be between",
        ),
        (
            ["--default-processor", '{"processor": "colorIntensity", "bogus": 1}'],
            "defaultProcessor: processor 'colorIntensity' options: ColorIntensity.__init__() got",
        ),
        (
            ["--default-processor", '{"processor": "onnx"}'],
            "defaultProcessor: processor 'onnx' options: model: expected the name of an .onnx file",
        ),
        (
            ["--default-processor", '{"processor": "onnx", "model": "/nonexistent/m.onnx"}'],
            "defaultProcessor: model: '/nonexistent/m.onnx' not found in the model directory",
        ),
        (["--grpc-binding", "tcp://127.0.0.1:{busy}"], "grpcBinding: cannot listen on 127.0.0.1:"),
    ],
)
def test_bad_setting_is_one_clear_line(args, line):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_command("serve", *(a.replace("{busy}", str(port)) for a in args), timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"lva-extension serve: {line}")
    assert "Traceback" not in result.stderr


def test_server_logs_one_line_per_stream_event(serve):
    run_command("send", "--address", serve.address, "--frames", "30", "--quiet")
    run_command("send", "--address", serve.address, "--frames", "1", "--config", "nope")
    with server_process() as fresh:
        run_command("send", "--address", fresh.address, "--frames", "30", "--quiet")
    log = fresh.log
    opened = [line for line in log if "opened" in line]
    closed = [line for line in log if "closed" in line]
    assert len(opened) == len(closed) == 1
    assert "format=RAW RGB24 416x416" in opened[0] and "processor=colorIntensity" in opened[0]
    assert "frames=30" in closed[0] and "reason=client finished" in closed[0]
    assert not [line for line in log if "acknowledged sample" in line]  # no per-frame lines at INFO
