"""`flask db upgrade` on the embedded default prints no warning; the index it used to warn about survives."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_upgrade_on_sqlite_is_quiet_and_keeps_the_case_insensitive_email_index(tmp_path: Path) -> None:
    script = (
        "import sys; from signing import create_app; from flask_migrate import upgrade\n"
        "app = create_app(instance_path=sys.argv[1])\n"
        "with app.app_context(): upgrade()\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SMTP_HOST")}
    result = subprocess.run([sys.executable, "-W", "default", "-c", script, str(tmp_path)], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    with sqlite3.connect(tmp_path / "accord.sqlite3") as connection:
        indexes = {name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users'")}
    assert "uq_users_email_lower" in indexes
