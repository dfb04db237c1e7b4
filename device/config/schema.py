"""The shape of ZeroPin's settings: one frozen dataclass per ``[section]``, with defaults.

Field names carry their unit (``refractory_seconds``, ``rate_wpm``); a component receives its own
section, never the whole tree. A field declared ``setting(default, rule)`` takes only the values
its rule (from ``checks``) allows; where each value may come from is in ``sources``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from device.config.checks import (
    BCM_GPIO,
    TIMEOUT,
    Check,
    at_least,
    between,
    country_code,
    dns_label,
    empty_or,
    env_var_name,
    http_url,
    not_empty,
    one_of,
    provider_names,
    setting,
    tens_of_ms,
    timezone_name,
    tool_names,
)
from device.config.presets import PRESETS


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


def _key_alone(key: Secret) -> str | None:
    """The rule of ``api_key``, beside the type it checks."""
    if is_clean_key(key.reveal()):
        return None
    return "must hold the key alone: no spaces, line breaks or non-ASCII (value not shown)"


def _off_or_between(low: float, high: float) -> Check:
    return lambda v: (
        None if v == 0 or low <= v <= high else (f"must be 0 (off) or {low:g}..{high:g}, got {v:g}")
    )


# The languages the device speaks, and the shipped wake phrase of each: the [wake] phrase when
# none is set (docs/chinese.md).
LANGUAGES = ("en", "zh")
WAKE_PHRASES = {"en": "hey zero", "zh": "你好零"}


@dataclass(frozen=True)
class DeviceConfig:
    name: str = setting("zeropin", not_empty)
    state_dir: str = ""  # "" = /var/lib/zeropin if writable, else ~/.local/share/zeropin
    # what the wearer speaks: the offline commands, replies, wake word and the LLM's instructions
    language: str = setting("en", one_of(*LANGUAGES))


# The sound hardware ZeroPin knows; device.system.audio_profiles says what each one sets up.
AUDIO_PROFILES = ("usb", "respeaker-2mic", "respeaker-2mic-v2", "voicehat", "sim")


@dataclass(frozen=True)
class AudioConfig:
    mic: str = ""  # substring of the PyAudio input device name; "" = system default
    speaker: str = ""  # substring of the PyAudio output device name; "" = system default
    chunk_ms: int = setting(100, tens_of_ms)  # milliseconds of audio per read
    # sound hardware `zeropin firstboot` sets up (ALSA config, overlay, mixer), one of
    # AUDIO_PROFILES; "" = leave audio alone
    profile: str = setting("", one_of("", *AUDIO_PROFILES))


def _wifi_ssid(v: str) -> str | None:
    if len(v.encode()) <= 32 and all(ord(char) >= 32 and char != "\x7f" for char in v):
        return None
    return "must be a Wi-Fi network name: at most 32 bytes, no line breaks or control characters"


def _wpa_passphrase(v: Secret) -> str | None:
    """The rule of ``wifi_password``: what WPA2/WPA3-Personal takes ("" for an open network)."""
    text = v.reveal()
    if not text or (8 <= len(text) <= 63 and all(32 <= ord(char) <= 126 for char in text)):
        return None
    return "must be 8 to 63 printable ASCII characters, or empty for an open network (not shown)"


@dataclass(frozen=True)
class SystemConfig:
    """What ``zeropin firstboot`` applies to the operating system; the daemon ignores it."""

    # "" = leave it; e.g. "zeropin-07" for kit 7 on a workshop table
    hostname: str = setting("", dns_label)
    # ISO 3166 code, e.g. "GB"; a Pi keeps Wi-Fi off until one is set
    wifi_country: str = setting("", country_code)
    # the Wi-Fi network to join (a NetworkManager connection); "" = leave Wi-Fi as it is, e.g.
    # set with Raspberry Pi Imager. A workshop's kits all join the teacher's network.
    wifi_ssid: str = setting("", _wifi_ssid)
    wifi_password: Secret = setting(Secret(), _wpa_passphrase)  # WPA-PSK; "" = an open network
    # "" = leave it as it is; "Europe/London": the clock the wearer hears ("what time is it") and
    # the day the cloud budget counts follow it
    timezone: str = setting("", timezone_name)


@dataclass(frozen=True)
class WakeConfig:
    # our own model; "pocketsphinx" and "vosk" spot the phrase by ASR
    engine: str = setting("tflite", one_of("pocketsphinx", "vosk", "tflite"))
    # a tflite model knows its phrase: this must match its card
    phrase: str = setting("hey zero", not_empty)
    # Score needed to fire; 0 = the engine's default: the model card's threshold (tflite, scores
    # 0..1), 1e-40 (pocketsphinx keyphrase). Vosk has none.
    threshold: float = setting(0.0, at_least(0))
    model: str = ""  # tflite model file; "" = the shipped "hey zero" model
    # detections this soon after one are ignored
    refractory_seconds: float = setting(2.0, between(0, 60))
    # tflite: smoothed scores in a row at the threshold; 0 = card's
    trigger_level: int = setting(0, at_least(0))
    # tflite: scores averaged before the threshold; 0 = the card's
    smoothing: int = setting(0, at_least(0))
    # After an answer, listen for a follow-up without the wake word: "question" when the answer
    # ends in one, "always", or "off"
    follow_up: str = setting("question", one_of("question", "always", "off"))
    # how long the follow-up window waits for speech to start
    follow_up_seconds: float = setting(4.0, between(1, 15))
    # "stop" said on its own over an answer stops it. Other people talking over answers stop
    # them too, now and then (real speech: about 450 times per hour of talk): false leaves the
    # button and the wake word to interrupt
    stop_word: bool = True


@dataclass(frozen=True)
class VadConfig:
    # webrtcvad mode, 0 (keeps most audio) .. 3 (drops most non-speech)
    aggressiveness: int = setting(2, between(0, 3))
    # silence that ends an utterance
    trailing_silence_seconds: float = setting(0.6, between(0.1, 5))
    max_utterance_seconds: float = setting(10.0, between(1, 60))
    # give up if nobody speaks after the wake word
    no_speech_timeout_seconds: float = setting(5.0, between(0.5, 60))
    preroll_seconds: float = setting(0.5, between(0, 3))  # audio kept from before speech starts


@dataclass(frozen=True)
class AsrConfig:
    engine: str = setting("auto", one_of("auto", "vosk", "pocketsphinx", "cloud"))
    vosk_model: str = ""  # "" = <state_dir>/models/vosk-model-small-en-us-0.15
    # Vosk's recogniser keeps all of its graph it has expanded, so it grows with every utterance:
    # it is rebuilt before the next one once the daemon has grown more than this many MB since
    # it was built (0 = never). On the small Korean model, 100 held 333 s of speech to 110 MB of
    # growth instead of 220 MB (and rising) for 1.3x the CPU: a new recogniser decodes slower
    # until it has expanded the graph again. With the small English model's load (at most
    # 178 MB) that keeps the daemon within the 426 MB a Zero 2 W leaves free.
    vosk_cache_mb: int = setting(100, at_least(0))
    # English on pocketsphinx: where its grammar heard no command, ask the command rescue model
    # (device/listening/command_rescue.py; about 10 MB more memory, unless the wake word is a
    # speech-embedding model, whose networks it shares). false: the grammar alone
    command_rescue: bool = True


@dataclass(frozen=True)
class TtsConfig:
    engine: str = setting("espeak-ng", one_of("espeak-ng", "cloud"))
    voice: str = "en-us"
    rate_wpm: int = setting(165, between(80, 450))  # words per minute
    pitch: int = setting(50, between(0, 99))  # espeak-ng pitch
    volume_percent: int = setting(80, between(0, 100))
    # longest answer spoken (about 2 minutes); past it the device says it stopped there
    max_answer_chars: int = setting(2000, between(200, 20000))


@dataclass(frozen=True)
class ButtonsConfig:
    main_pin: int = setting(17, BCM_GPIO)
    # press longer than this counts as a hold
    hold_seconds: float = setting(1.0, between(0.2, 10))
    # held this long, the device asks whether to forget the visitor (a workshop's reset between
    # visitors; it acts only on a spoken yes); longer than hold_seconds. 0 = no such gesture
    reset_hold_seconds: float = setting(0.0, _off_or_between(2, 120))
    # a second press this soon after the first starts or stops a recording (0 = no gesture)
    double_press_seconds: float = setting(0.5, _off_or_between(0.2, 1.5))


@dataclass(frozen=True)
class LedConfig:
    kind: str = setting("single", one_of("single", "rgb", "none"))
    pin: int = setting(12, BCM_GPIO)  # the single LED
    red_pin: int = setting(5, BCM_GPIO)  # the RGB LED
    green_pin: int = setting(6, BCM_GPIO)
    blue_pin: int = setting(13, BCM_GPIO)
    privacy_pin: int = setting(0, BCM_GPIO)  # the camera/mic privacy LED; 0 = none
    # With no privacy LED and kind = "none", nothing can show that a photo or recording is
    # leaving, so those uploads are refused; true sends them anyway, unseen.
    allow_uploads_without_indicator: bool = False


@dataclass(frozen=True)
class CameraConfig:
    backend: str = setting("auto", one_of("auto", "picamera2", "folder", "none"))
    folder: str = ""  # directory of images for the folder backend
    width: int = setting(1280, at_least(1))  # pixels
    height: int = setting(960, at_least(1))  # pixels


@dataclass(frozen=True)
class NotesConfig:
    max_notes_read: int = setting(5, between(1, 50))  # notes read aloud at most per request


@dataclass(frozen=True)
class RecorderConfig:
    """Recording meetings to the SD card ("start recording"; a double press of the button)."""

    enabled: bool = True
    # who transcribes: "auto" is the cloud when a provider has a transcription_model (each
    # segment through the egress gate), else the local recogniser once the recording has ended
    transcribe: str = setting("auto", one_of("auto", "cloud", "local", "off"))
    summarise: bool = True  # key points, decisions and actions, by the cloud brain
    # a segment ends at the first pause after this many seconds (each one uploaded whole)
    segment_seconds: float = setting(30.0, between(5, 120))
    sync_seconds: float = setting(2.0, between(0.5, 30))  # the most a power cut can lose
    min_free_mb: int = setting(200, between(20, 100000))  # stop recording with less free
    keep_days: int = setting(0, between(0, 3650))  # delete older recordings; 0 = keep until deleted


@dataclass(frozen=True)
class LlmConfig:
    """The cloud brain: which providers to try, and how to talk to them."""

    # provider names, first tried first; () = OpenAI variables or none
    chain: tuple[str, ...] = setting((), provider_names)
    model: str = ""  # model for the provider OPENAI_BASE_URL/OPENAI_API_KEY give; "" = gpt-4o-mini
    stream: bool = True  # speak the answer sentence by sentence as it arrives
    max_tokens: int = setting(300, between(1, 4096))  # longest answer, in tokens
    # question+answer pairs sent along as context
    history_turns: int = setting(6, between(0, 50))
    history_minutes: float = setting(10.0, between(0, 1440))  # turns older than this are left out
    log_prompt_text: bool = False  # the egress ledger records what was asked, not just its size
    image_max_side: int = setting(768, between(128, 2048))  # pixels; photos are downscaled to fit
    image_quality: int = setting(80, between(30, 95))  # JPEG quality of uploaded photos
    # failures in a row before a provider is skipped for a while
    breaker_failures: int = setting(3, at_least(1))
    # how long a failing provider is skipped
    breaker_cooldown_seconds: float = setting(60.0, between(0, 86400))
    # each provider may override these four
    connect_timeout_seconds: float = setting(3.0, TIMEOUT)
    # from request sent to the first byte of answer
    first_token_timeout_seconds: float = setting(8.0, TIMEOUT)
    deadline_seconds: float = setting(30.0, TIMEOUT)  # whole request, streaming included
    # extra attempts on 429/5xx/reset before the chain moves on
    max_retries: int = setting(1, between(0, 5))
    # The device's own usage budget (a workshop's kits sharing one account), counted in its
    # database so a restart does not reset it; 0 = no limit. When spent, the wearer hears so, no
    # question goes to the cloud and no audio is transcribed there. A day is the calendar day in
    # the device's time zone.
    max_requests_per_hour: int = setting(0, at_least(0))  # chat requests in the last 60 minutes
    max_requests_per_day: int = setting(0, at_least(0))
    max_tokens_per_day: int = setting(0, at_least(0))  # as the servers count them, or estimated


def _token_alone(token: Secret) -> str | None:
    """The rule of ``[web] token``: a secret long enough that guessing it over the LAN fails."""
    if not token:
        return None
    if not is_clean_key(token.reveal()):
        return "must hold the token alone: no spaces, line breaks or non-ASCII (value not shown)"
    if len(token.reveal()) < 16:
        return "must be 16 characters or more (value not shown)"
    return None


@dataclass(frozen=True)
class WebConfig:
    """The companion page on the LAN (``device.web``); the image starts it by socket activation."""

    # `zeropin web serve` on its own (a laptop); the image's zeropin-web.socket listens on 80
    port: int = setting(8080, between(1, 65535))
    # after this long without a request the page's process exits and gives its memory back;
    # systemd starts it again at the next visit. 0 = never
    idle_exit_minutes: float = setting(10.0, between(0, 1440))
    # the secret that opens the page; "" = the one `zeropin web token` makes and keeps in the
    # state directory. Set here, it is better kept in a secrets file.
    token: Secret = setting(Secret(), _token_alone)


@dataclass(frozen=True)
class ProviderConfig:
    """One ``[providers.NAME]`` table; what it leaves empty comes from its preset.

    ``preset`` defaults to NAME when NAME is a preset, so ``[providers.groq]`` needs no
    ``preset = "groq"``. The timeouts and retries are None ("not set": ``[llm]``'s value applies).
    """

    preset: str = setting("", empty_or(one_of(*PRESETS)))  # a name in config.presets.PRESETS
    base_url: str = setting("", http_url)  # "https://host/v1"; "" = the preset's
    model: str = ""
    vision_model: str = ""  # a model that accepts images; "" = the preset's, if any
    api_key: Secret = setting(Secret(), _key_alone)  # better kept in a secrets file
    # NAME of the environment variable with the key; "" = the preset's
    api_key_env: str = setting("", env_var_name)
    transcription_model: str = ""
    speech_model: str = ""
    speech_voice: str = ""
    connect_timeout_seconds: float | None = setting(None, TIMEOUT)
    first_token_timeout_seconds: float | None = setting(None, TIMEOUT)
    deadline_seconds: float | None = setting(None, TIMEOUT)
    max_retries: int | None = setting(None, between(0, 5))


@dataclass(frozen=True)
class McpServerConfig:
    """One ``[mcp.servers.NAME]`` table: an MCP server (streamable HTTP) whose tools the cloud
    model may call. See docs/mcp.md."""

    url: str = setting("", http_url)  # e.g. "http://homeassistant.local:8123/api/mcp"; required
    token: Secret = setting(Secret(), _key_alone)  # sent as a bearer token; keep it in secrets
    # the server's tools offered to the model, by the server's names; ["*"] = every one.
    # Nothing is offered until named here: the log and `zeropin doctor` list what there is.
    allow: tuple[str, ...] = setting((), tool_names)
    # tools that only read, for a server that does not mark them so (Home Assistant's
    # GetLiveContext): they run without asking the wearer first
    read_only: tuple[str, ...] = setting((), tool_names)
    # false: tools that act in the world (not read-only) run without asking the wearer first
    confirm: bool = True
    # one call's longest wait; never past the answer's deadline ([llm] deadline_seconds)
    timeout_seconds: float = setting(10.0, TIMEOUT)


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
    recorder: RecorderConfig = field(default_factory=RecorderConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    system: SystemConfig = field(default_factory=SystemConfig)  # for firstboot, not the daemon
    web: WebConfig = field(default_factory=WebConfig)  # the companion page, not the daemon
    # (name, table) in the order the layers first name them; dict(cfg.providers) to look one up
    providers: tuple[tuple[str, ProviderConfig], ...] = ()
    # (name, table) of [mcp.servers.NAME], in the order the layers first name them
    mcp_servers: tuple[tuple[str, McpServerConfig], ...] = ()

    def provider(self, name: str) -> ProviderConfig | None:
        """The ``[providers.NAME]`` table, if the configuration has one."""
        return dict(self.providers).get(name)
