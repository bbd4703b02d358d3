"""`python -m tapegrad`: the demo."""

from tapegrad.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
