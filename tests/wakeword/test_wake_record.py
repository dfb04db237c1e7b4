"""`zeropin wakeword record`: takes cut from espeak-ng speech, played through a file and through
PyAudio on a file-backed ALSA device, checked, numbered and saved whole."""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from alsa_file_device import INPUT_NAME, alsa_file_device

from device.cli.main import main
from device.errors import ConfigError, StorageError
from device.listening.tflite_wake import ModelCard
from device.speaking.tts import EspeakSynthesizer
from device.wakeword.eval import firings, score_folders
from device.wakeword.record import record_clips
from drivers.audio_format import RATE, read_wav, write_wav
from drivers.mic import FileMicrophone, PyAudioMicrophone

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "wakeword" / "hey_zero.tflite"


@functools.cache
def said(text: str, voice: str = "en-us", peak_dbfs: float = -6.0) -> bytes:
    """``text`` from espeak-ng with its silent head and tail cut, scaled to ``peak_dbfs`` (over 0
    clips it)."""
    pcm = EspeakSynthesizer(voice, 165, 50, volume_percent=100).synthesize(text)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    loud = np.flatnonzero(np.abs(samples) > 300)
    samples = samples[loud[0] : loud[-1] + 1]
    samples *= 32767 * 10 ** (peak_dbfs / 20) / np.abs(samples).max()
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def room(seconds: float, seed: int = 0, dbfs: float = -60.0) -> bytes:
    """A quiet room: noise at ``dbfs`` RMS."""
    sd = 32768 * 10 ** (dbfs / 20)
    noise = np.random.default_rng(seed).normal(0, sd, int(seconds * RATE))
    return noise.astype("<i2").tobytes()


def session(*takes: bytes, gap: float = 1.2, room_dbfs: float = -60.0) -> bytes:
    """The takes with a quiet room before, between and after them."""
    parts = [room(gap, 0, room_dbfs)]
    for index, take in enumerate(takes, start=1):
        parts += [take, room(gap, index, room_dbfs)]
    return b"".join(parts)


PHRASES = [("hey zero", "en-us"), ("hey zero", "en-gb+f2"), ("hey zero", "en-us+m3")]


def file_mic(tmp_path: Path, pcm: bytes, chunk_frames: int = 1000) -> FileMicrophone:
    path = tmp_path / "session.wav"
    write_wav(path, pcm)
    return FileMicrophone(path, chunk_frames)  # 62.5 ms chunks: not a whole number of frames


def test_each_take_is_cut_out_whole_and_saved_in_order(tmp_path: Path) -> None:
    phrases = [said(*p) for p in PHRASES]
    with file_mic(tmp_path, session(*phrases)) as mic:
        saved = record_clips(mic, tmp_path / "clips", speaker="ann", takes=10, live=False)
    assert [p.name for p in saved] == ["ann_001.wav", "ann_002.wav", "ann_003.wav"]
    for path, phrase in zip(saved, phrases, strict=True):
        clip = read_wav(path)
        assert phrase in clip  # byte for byte, head to tail
        extra = (len(clip) - len(phrase)) / 2 / RATE
        assert 1.0 <= extra <= 1.7, f"{path.name}: {extra:.2f} s around the phrase"


def test_numbers_continue_after_the_clips_already_there(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    before = {name: f"{name} was here".encode() for name in ("ann_001.wav", "ann_007.wav",
                                                             "bob_012.wav")}  # fmt: skip
    for name, data in before.items():
        (folder / name).write_bytes(data)
    with file_mic(tmp_path, session(said("hey zero"), said("hey zero", "en-gb"))) as mic:
        saved = record_clips(mic, folder, speaker="ann", takes=5, live=False)
    assert [p.name for p in saved] == ["ann_008.wav", "ann_009.wav"]
    assert {name: (folder / name).read_bytes() for name in before} == before


def test_bad_takes_are_told_and_not_kept(tmp_path: Path) -> None:
    clipped = said("hey zero", peak_dbfs=+12.0)
    sentence = said("the train is running twenty minutes late again this morning, I am afraid")
    good = said("hey zero", "en-gb")
    told: list[str] = []
    with file_mic(tmp_path, session(clipped, sentence, good)) as mic:
        saved = record_clips(
            mic, tmp_path / "clips", speaker="me", takes=5, tell=told.append, live=False
        )
    assert [p.name for p in saved] == ["me_001.wav"]
    assert good in read_wav(saved[0])
    assert [line.split(" ")[0] for line in told] == ["clipped:", "over", "saved"], told
    assert "over 3 s of speech" in told[1]


def test_a_live_microphone_hearing_no_speech_says_how_loud_it_was_and_gives_up(
    tmp_path: Path,
) -> None:
    mumbled = said("hey zero", peak_dbfs=-44.0)  # under webrtcvad's ear in a -60 dBFS room
    told: list[str] = []
    prompts: list[int] = []
    with file_mic(tmp_path, room(2.0) + mumbled + room(30.0)) as mic:
        saved = record_clips(
            mic, tmp_path / "clips", speaker="me", takes=5, prompt=prompts.append,
            tell=told.append, live=True,
        )  # fmt: skip
    assert saved == []
    assert prompts == [1, 1, 1]
    heard = r"heard no speech in 6 s \(loudest sound (-\d+) dBFS, the room (-\d+)\); not kept"
    levels = [tuple(int(x) for x in re.fullmatch(heard, line).groups()) for line in told[:3]]
    assert -58 <= levels[0][0] <= -50  # the mumble: louder than the room, but not enough
    assert all(-62 <= room <= -59 for _, room in levels)
    assert all(loudest - room <= 2 for loudest, room in levels[1:])  # then only the room
    assert "`zeropin doctor`" in told[3]
    assert not (tmp_path / "clips").exists()


def test_a_clip_that_cannot_be_saved_stops_and_keeps_the_earlier_ones(tmp_path: Path) -> None:
    folder, moved = tmp_path / "clips", tmp_path / "moved"

    def prompt(number: int) -> None:
        if number == 2:  # the folder goes, and a file takes its name: nothing can be saved
            folder.rename(moved)
            folder.write_text("not a folder")

    recording = session(said("hey zero"), said("hey zero", "en-gb"))
    saying = r"could not save .*/clips/me_00\d.wav .*the 1 clip\(s\) saved before it are kept"
    with file_mic(tmp_path, recording) as mic, pytest.raises(StorageError, match=saying):
        record_clips(mic, folder, speaker="me", takes=5, prompt=prompt, live=False)
    assert said("hey zero") in read_wav(moved / "me_001.wav")
    assert [p.name for p in moved.iterdir()] == ["me_001.wav"]


def test_blips_are_passed_over_and_the_room_carries_from_take_to_take(tmp_path: Path) -> None:
    knock = room(0.1, 9, dbfs=-12.0)  # 100 ms of loud noise: speech to webrtcvad, but short
    phrases = [said(*p) for p in PHRASES]
    recording = room(1.2) + knock + room(0.8, 1) + phrases[0] + room(1.0, 2) + phrases[1]
    recording += room(0.7, 3) + phrases[2] + room(1.0, 4)
    told: list[str] = []
    with file_mic(tmp_path, recording) as mic:
        saved = record_clips(mic, tmp_path, speaker="me", takes=5, tell=told.append, live=False)
    assert [line.split(" ")[0] for line in told] == ["saved", "saved", "only"], told
    assert "only 0.7 s of quiet before it: wait a second first" in told[2]
    for path, phrase in zip(saved, phrases[:2], strict=True):
        clip = read_wav(path)
        before = clip.index(phrase) / 2 / RATE
        assert 0.95 <= before <= 1.05, f"{path.name}: {before:.2f} s of room before the phrase"
    assert knock in read_wav(saved[0])  # part of the room before the first take


def test_a_take_cut_off_by_the_end_of_a_recording_is_kept(tmp_path: Path) -> None:
    phrase = said("hey zero")
    with file_mic(tmp_path, room(1.5) + phrase, chunk_frames=1600) as mic:
        saved = record_clips(mic, tmp_path, speaker="me", takes=5, live=False)
    assert len(saved) == 1
    assert phrase[:-960] in read_wav(saved[0])  # all but the last part-frame


def test_numbering_ignores_case_as_a_fat_card_does(tmp_path: Path) -> None:
    (tmp_path / "Ann_004.wav").write_bytes(b"someone else's")
    with file_mic(tmp_path, session(said("hey zero"))) as mic:
        saved = record_clips(mic, tmp_path, speaker="ann", takes=5, live=False)
    assert [p.name for p in saved] == ["ann_005.wav"]
    assert (tmp_path / "Ann_004.wav").read_bytes() == b"someone else's"


def test_a_speaker_name_must_fit_a_file_name(tmp_path: Path) -> None:
    with file_mic(tmp_path, room(1.0)) as mic:
        for bad in ("", "ann smith", "../ann", "a" * 33):
            with pytest.raises(ConfigError, match="--speaker"):
                record_clips(mic, tmp_path / "clips", speaker=bad, takes=1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ALSA is Linux-only")
def test_takes_from_a_live_pyaudio_microphone(tmp_path: Path) -> None:
    pytest.importorskip("pyaudio")
    phrases = [said(*p) for p in PHRASES]
    prompts: list[int] = []
    with alsa_file_device(tmp_path / "alsa") as alsa:
        alsa.feed(session(*phrases))
        with PyAudioMicrophone(INPUT_NAME, chunk_frames=1600) as mic:
            saved = record_clips(
                mic, tmp_path / "clips", speaker="ann", takes=3, prompt=prompts.append
            )
    assert prompts == [1, 2, 3]
    for path, phrase in zip(saved, phrases, strict=True):
        assert phrase in read_wav(path)


def test_the_shipped_model_hears_the_clips_it_cuts(tmp_path: Path) -> None:
    """Enough lead-in and tail is kept for the detector to fire on each take."""
    with file_mic(tmp_path, session(*(said(*p) for p in PHRASES))) as mic:
        record_clips(mic, tmp_path / "clips", speaker="ann", takes=5, live=False)
    (tmp_path / "talk").mkdir()
    write_wav(tmp_path / "talk" / "room.wav", room(5.0))
    scored = score_folders(SHIPPED, tmp_path / "clips", tmp_path / "talk")
    card = ModelCard.load(SHIPPED)
    assert len(scored.positives) == 3
    for path, scores in zip(scored.positive_files, scored.positives, strict=True):
        rule = (card.threshold, card.trigger_level, card.smoothing)
        assert firings(scores, *rule) == 1, (path, scores.max())


def test_the_trainer_takes_the_clips_as_its_own_recordings(tmp_path: Path) -> None:
    dataset = pytest.importorskip("wakeword_trainer.dataset")  # the train extra; ./dev has it
    phrases = [said(*p) for p in PHRASES]
    with file_mic(tmp_path, session(*phrases)) as mic:
        record_clips(mic, tmp_path / "clips", speaker="ann", takes=5, live=False)
    clips = dataset.load_recordings(tmp_path / "clips")
    assert len(clips) == 3
    for clip, phrase in zip(clips, phrases, strict=True):
        assert phrase in clip.tobytes()  # trimmed to the phrase, give or take 10 ms a side
        assert clip.size <= len(phrase) // 2 + 320


def test_the_command_cuts_a_recording_and_says_what_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recording = tmp_path / "phone.wav"
    write_wav(recording, session(said("hey zero"), said("hey zero", "en-gb")))
    folder = tmp_path / "clips"
    code = main(["wakeword", "record", "hey  zero", str(folder), "--from", str(recording),
                 "--speaker", "ann"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert sorted(p.name for p in folder.iterdir()) == ["ann_001.wav", "ann_002.wav"]
    assert f"2 clip(s) saved in {folder}/" in out
    assert f"--positives {folder} --negatives TALK" in out
    assert f"zeropin wakeword train 'hey zero' --out MY.tflite --recordings {folder}" in out

    write_wav(recording, room(3.0))
    assert main(["wakeword", "record", "hey zero", str(folder), "--from", str(recording)]) == 1
    assert "no clips saved" in capsys.readouterr().out
    for wrong, says in (
        (["--takes", "0"], "--takes 0: keep at least 1"),
        (["--speaker", "ann smith"], "--speaker 'ann smith': use 1 to 32 letters, digits or '-'"),
        (["--from", str(tmp_path / "none.wav")], f"audio file not found: {tmp_path}/none.wav"),
    ):
        assert main(["wakeword", "record", "hey zero", str(folder), *wrong]) == 1
        assert says in capsys.readouterr().err
    assert main(["wakeword", "record", "hey zero", str(recording), "--from", str(recording)]) == 1
    assert f"{recording} is a file, not a folder for the clips" in capsys.readouterr().err
