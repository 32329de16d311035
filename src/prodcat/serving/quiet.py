"""TensorFlow's C++ start-up chatter, held back unless asked for."""

from __future__ import annotations

import os
import sys
import tempfile

# Abseil, which TensorFlow 2.21 logs through, prints these before it reads TF_CPP_MIN_LOG_LEVEL.
_STARTUP_NOISE = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its INFO start-up lines (oneDNN notices) dropped from stderr.

    Only when ``TF_CPP_MIN_LOG_LEVEL`` asks for quiet (the CLI sets 3 unless told otherwise);
    warnings and errors printed during the import still reach stderr, in order.
    """
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") in ("", "0"):
        import tensorflow

        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                if not line.startswith(_STARTUP_NOISE)
            ]
            sys.stderr.write("".join(kept))
