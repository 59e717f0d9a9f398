from __future__ import annotations

from perch.cli import main

main()
