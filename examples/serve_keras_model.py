"""Serve a Keras model's predictions with NumPy alone: load a ``.keras`` file (written by real
TensorFlow/Keras 3 or by tapegrad) and answer JSON requests, with no TensorFlow installed.

Installed size, measured with ``du -sm`` of a fresh Python 3.11 venv's site-packages (Linux
x86-64 wheels; pip and setuptools left out):

* NumPy 2.4 + tapegrad: 77 MB;
* NumPy 2.4 + h5py 3.16 + tapegrad (what this example needs): 93 MB;
* tensorflow-cpu 2.21 with its dependencies and h5py: 1,723 MB (the ``tensorflow`` package
  folder alone: 1,289 MB),

so the model fits where TensorFlow cannot go, e.g. a serverless function (AWS Lambda allows
250 MB unzipped).

Two ways to serve:

* ``handler(event)``: a function handler (the shape of a serverless function's entry point):
  ``{"instances": [[...], ...]}`` in, ``{"predictions": [[...], ...]}`` out.
* ``python examples/serve_keras_model.py model.keras --port 8000``: a small HTTP server
  (standard library ``http.server``): ``POST /predict`` with the same JSON body, ``GET
  /health``. ``--once '{"instances": ...}'`` prints one answer and exits.

Needs ``pip install 'tapegrad[keras-files]'`` (NumPy and h5py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

import tapegrad as tf

MAX_BODY = 8 << 20          # bytes of a request body
MODEL_PATH = os.environ.get("MODEL_PATH", "model.keras")
_models: dict = {}


def load(path: str):
    """The model in ``path`` (loaded once per process; safe mode: no code from the file)."""
    if path not in _models:
        _models[path] = tf.keras.models.load_model(path, compile=False)
    return _models[path]


def predict(model, instances) -> list:
    """The model's predictions for a batch given as nested lists."""
    # Keras 3 spells a symbolic input's dtype as a string ("float32")
    dtype = str(model.inputs[0].dtype) if getattr(model, "inputs", None) else "float32"
    batch = np.asarray(instances, dtype=dtype)
    return model.predict(batch, verbose=0).tolist()


def handler(event: dict, context=None, path: str | None = None) -> dict:
    """A function handler: ``{"instances": [...]}`` -> ``{"predictions": [...]}``, or
    ``{"error": ...}`` for a request the model cannot take."""
    try:
        instances = event["instances"]
        return {"predictions": predict(load(path or MODEL_PATH), instances)}
    except (KeyError, TypeError, ValueError) as error:
        return {"error": f"{type(error).__name__}: {error}"}


def make_server(path: str, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server answering ``POST /predict`` and ``GET /health`` for the model."""
    load(path)

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path == "/health":
                self._reply(200, {"status": "ok", "model": os.path.basename(path)})
            else:
                self._reply(404, {"error": "GET /health or POST /predict"})

        def do_POST(self):  # noqa: N802
            if self.path != "/predict":
                self._reply(404, {"error": "POST /predict"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._reply(413, {"error": f"the body must be 1 to {MAX_BODY} bytes"})
                return
            try:
                event = json.loads(self.rfile.read(length))
            except ValueError as error:
                self._reply(400, {"error": f"not JSON: {error}"})
                return
            answer = handler(event if isinstance(event, dict) else {}, path=path)
            self._reply(400 if "error" in answer else 200, answer)

        def log_message(self, *args):      # quiet: one line per request is noise here
            pass

    return ThreadingHTTPServer((host, port), Handler)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a .keras file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--once", help='answer one JSON request ({"instances": ...}) and exit')
    args = parser.parse_args(argv)
    if args.once is not None:
        answer = handler(json.loads(args.once), path=args.model)
        print(json.dumps(answer))
        return 1 if "error" in answer else 0
    server = make_server(args.model, args.host, args.port)
    print(f"serving {args.model} on http://{args.host}:{server.server_address[1]}/predict")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
