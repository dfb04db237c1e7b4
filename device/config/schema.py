"""The shape of ZeroPin's settings: one frozen dataclass per ``[section]``, with defaults.

Field names carry their unit (``refractory_seconds``, ``rate_wpm``); a component receives its own
section, never the whole tree. Where each value may come from is in ``sources``, what makes it
valid in ``checks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Secret:
    """A value that must never be printed: ``str(secret)`` is "***" (or "" when empty)."""

    _value: str = field(default="", repr=False)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __str__(self) -> str:
        return "***" if self._value else ""

    def __repr__(self) -> str:
        return f"Secret({str(self)!r})"


def is_clean_key(text: str) -> bool:
    """Whether text can be a key as is: printable ASCII without spaces (a paste often adds some)."""
    return all(33 <= ord(char) <= 126 for char in text)


@dataclass(frozen=True)
class DeviceConfig:
    name: str = "zeropin"
    state_dir: str = ""  # "" = /var/lib/zeropin if writable, else ~/.local/share/zeropin


@dataclass(frozen=True)
class AudioConfig:
    mic: str = ""  # substring of the PyAudio input device name; "" = system default
    speaker: str = ""  # substring of the PyAudio output device name; "" = system default
    chunk_ms: int = 100  # milliseconds of audio per read: 10, 20, ..., 100
    # sound hardware `zeropin firstboot` sets up (ALSA config, overlay, mixer): a name in
    # device.system.audio_profiles.PROFILES ("usb", "respeaker-2mic", ...); "" = leave audio alone
    profile: str = ""


@dataclass(frozen=True)
class SystemConfig:
    """What ``zeropin firstboot`` applies to the operating system; the daemon ignores it."""

    hostname: str = ""  # "" = leave it; e.g. "zeropin-07" for kit 7 on a workshop table
    wifi_country: str = ""  # ISO 3166 code, e.g. "GB"; a Pi keeps Wi-Fi off until one is set


@dataclass(frozen=True)
class WakeConfig:
    engine: str = "tflite"  # our own model; "pocketsphinx" and "vosk" spot the phrase by ASR
    phrase: str = "hey zero"  # a tflite model knows its phrase: this must match its card
    # Score needed to fire; 0 = the engine's default: the model card's threshold (tflite, scores
    # 0..1), 1e-40 (pocketsphinx keyphrase). Vosk has none.
    threshold: float = 0.0
    model: str = ""  # tflite model file; "" = the shipped "hey zero" model
    refractory_seconds: float = 2.0  # detections this soon after one are ignored
    trigger_level: int = 0  # tflite: smoothed scores in a row at the threshold; 0 = card's
    smoothing: int = 0  # tflite: scores averaged before the threshold; 0 = the card's


@dataclass(frozen=True)
class VadConfig:
    aggressiveness: int = 2  # webrtcvad mode, 0 (keeps most audio) .. 3 (drops most non-speech)
    trailing_silence_seconds: float = 0.6  # silence that ends an utterance
    max_utterance_seconds: float = 10.0
    no_speech_timeout_seconds: float = 5.0  # give up if nobody speaks after the wake word
    preroll_seconds: float = 0.5  # audio kept from before speech starts


@dataclass(frozen=True)
class AsrConfig:
    engine: str = "auto"
    vosk_model: str = ""  # "" = <state_dir>/models/vosk-model-small-en-us-0.15


@dataclass(frozen=True)
class TtsConfig:
    engine: str = "espeak-ng"
    voice: str = "en-us"
    rate_wpm: int = 165  # words per minute
    pitch: int = 50  # espeak-ng pitch, 0..99
    volume_percent: int = 80


@dataclass(frozen=True)
class ButtonsConfig:
    main_pin: int = 17  # BCM GPIO number
    hold_seconds: float = 1.0  # press longer than this counts as a hold


@dataclass(frozen=True)
class LedConfig:
    kind: str = "single"
    pin: int = 12  # BCM GPIO of the single LED
    red_pin: int = 5  # BCM GPIOs of the RGB LED
    green_pin: int = 6
    blue_pin: int = 13
    privacy_pin: int = 0  # BCM GPIO of the camera/mic privacy LED; 0 = none


@dataclass(frozen=True)
class CameraConfig:
    backend: str = "auto"
    folder: str = ""  # directory of images for the folder backend
    width: int = 1280  # pixels
    height: int = 960  # pixels


@dataclass(frozen=True)
class NotesConfig:
    max_notes_read: int = 5  # notes read aloud at most per request


@dataclass(frozen=True)
class LlmConfig:
    """The cloud brain: which providers to try, and how to talk to them."""

    chain: tuple[str, ...] = ()  # provider names, first tried first; () = OpenAI variables or none
    model: str = ""  # model for the provider OPENAI_BASE_URL/OPENAI_API_KEY give; "" = gpt-4o-mini
    stream: bool = True  # speak the answer sentence by sentence as it arrives
    max_tokens: int = 300  # longest answer, in tokens
    history_turns: int = 6  # question+answer pairs sent along as context
    history_minutes: float = 10.0  # turns older than this are left out
    log_prompt_text: bool = False  # the egress ledger records what was asked, not just its size
    image_max_side: int = 768  # pixels; photos are downscaled to fit before upload
    image_quality: int = 80  # JPEG quality of uploaded photos
    breaker_failures: int = 3  # failures in a row before a provider is skipped for a while
    breaker_cooldown_seconds: float = 60.0  # how long a failing provider is skipped
    connect_timeout_seconds: float = 3.0  # each provider may override these four
    first_token_timeout_seconds: float = 8.0  # from request sent to the first byte of answer
    deadline_seconds: float = 30.0  # whole request, streaming included
    max_retries: int = 1  # extra attempts on 429/5xx/reset before the chain moves on


@dataclass(frozen=True)
class ProviderConfig:
    """One ``[providers.NAME]`` table; what it leaves empty comes from its preset.

    ``preset`` defaults to NAME when NAME is a preset, so ``[providers.groq]`` needs no
    ``preset = "groq"``. The timeouts and retries are None ("not set": ``[llm]``'s value applies).
    """

    preset: str = ""  # a name in device.cloud.providers.PRESETS
    base_url: str = ""  # "https://host/v1"; "" = the preset's
    model: str = ""
    vision_model: str = ""  # a model that accepts images; "" = the preset's, if any
    api_key: Secret = field(default_factory=Secret)  # better kept in a secrets file
    api_key_env: str = ""  # NAME of the environment variable with the key; "" = the preset's
    transcription_model: str = ""
    speech_model: str = ""
    speech_voice: str = ""
    connect_timeout_seconds: float | None = None
    first_token_timeout_seconds: float | None = None
    deadline_seconds: float | None = None
    max_retries: int | None = None


@dataclass(frozen=True)
class Config:
    """All settings; each component receives only its own section."""

    device: DeviceConfig = field(default_factory=DeviceConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    wake: WakeConfig = field(default_factory=WakeConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    buttons: ButtonsConfig = field(default_factory=ButtonsConfig)
    led: LedConfig = field(default_factory=LedConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    notes: NotesConfig = field(default_factory=NotesConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    system: SystemConfig = field(default_factory=SystemConfig)  # for firstboot, not the daemon
    # (name, table) in the order the layers first name them; dict(cfg.providers) to look one up
    providers: tuple[tuple[str, ProviderConfig], ...] = ()

    def provider(self, name: str) -> ProviderConfig | None:
        """The ``[providers.NAME]`` table, if the configuration has one."""
        return dict(self.providers).get(name)
