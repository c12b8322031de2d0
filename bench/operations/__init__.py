"""The host operations that drive everything below them: doctor, clean, the accelerator choice."""
