"""Cloud provider presets: base URL, key variable and models of each known service.

A ``[providers.NAME]`` table starts from the preset it names and overrides what it sets.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """Defaults for a well-known endpoint; a ``[providers.NAME]`` table overrides any of them."""

    base_url: str
    model: str  # "" = the user must name one (the server runs whatever it was started with)
    vision_model: str  # "" = no default model that accepts images
    api_key_env: str  # environment variable that holds the key; "" = no key needed
    transcription_model: str = ""
    speech_model: str = ""
    speech_voice: str = ""


# Model ids age: providers retire them every few months. Each is only a default; a table's
# `model = "..."` replaces it without touching the rest of the preset.
PRESETS: dict[str, Preset] = {
    "openai": Preset(
        "https://api.openai.com/v1",
        "gpt-4o-mini",
        "gpt-4o-mini",
        "OPENAI_API_KEY",
        transcription_model="whisper-1",
        speech_model="tts-1",
        speech_voice="alloy",
    ),
    "dashscope": Preset(  # Qwen, international (Singapore) endpoint of the compatible mode
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        "qwen-plus",
        "qwen-vl-plus",
        "DASHSCOPE_API_KEY",
    ),
    "openrouter": Preset(
        "https://openrouter.ai/api/v1",
        "openai/gpt-4o-mini",
        "openai/gpt-4o-mini",
        "OPENROUTER_API_KEY",
    ),
    "groq": Preset(  # its vision models are previews that come and go: set vision_model yourself
        "https://api.groq.com/openai/v1",
        "openai/gpt-oss-20b",
        "",
        "GROQ_API_KEY",
        transcription_model="whisper-large-v3-turbo",
    ),
    "gemini": Preset(
        "https://generativelanguage.googleapis.com/v1beta/openai",
        "gemini-3.5-flash-lite",
        "gemini-3.5-flash-lite",
        "GEMINI_API_KEY",
    ),
    "ollama": Preset("http://localhost:11434/v1", "llama3.2", "", ""),
    "llamacpp": Preset("http://localhost:8080/v1", "local", "", ""),  # serves one model, any name
    "vllm": Preset("http://localhost:8000/v1", "", "", ""),
}
