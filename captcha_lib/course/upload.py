"""Read your own CAPTCHA in a notebook: an upload button, then each image with its read.

    from captcha_lib.course.upload import upload_widget
    upload_widget(reader)   # JupyterLab or Colab: choose image files, see what the model reads

`read_uploads` does the reading, so the same path runs (and is tested) without a browser:
a file that is not a readable image gets its error message, never a traceback.
"""

from __future__ import annotations

import html

from ..errors import ImageError


def uploaded_files(value) -> list[tuple[str, bytes]]:
    """(name, bytes) per file in a `FileUpload`'s value: ipywidgets 8 gives a tuple of dicts
    (content a memoryview), ipywidgets 7 (older Colab runtimes) a dict of name -> dict."""
    if isinstance(value, dict):
        items = [(name, item["content"]) for name, item in value.items()]
    else:
        items = [(item["name"], item["content"]) for item in value]
    return [(name, bytes(content)) for name, content in items]


def read_uploads(reader, files: list[tuple[str, bytes]]) -> list[dict]:
    """{"name", "text", "confidence", "error"} per (name, bytes): what `reader` reads, or why it cannot."""
    results = []
    for name, data in files:
        try:
            reading = reader.read([data])[0]
            results.append({"name": name, "text": reading.text, "confidence": reading.confidence, "error": ""})
        except ImageError as exc:
            results.append({"name": name, "text": "", "confidence": None, "error": str(exc)})
    return results


def upload_widget(reader, width: int = 240):
    """An upload button; each chosen image is shown with the reader's text and confidence."""
    import ipywidgets as widgets

    upload = widgets.FileUpload(accept="image/*", multiple=True, description="Upload CAPTCHAs")
    shown = widgets.VBox()

    def on_upload(change) -> None:
        files = uploaded_files(change["new"])
        rows = []
        for (_, data), result in zip(files, read_uploads(reader, files)):
            name = html.escape(result["name"])
            if result["error"]:
                rows.append(widgets.HTML(f"<b>{name}</b>: {html.escape(result['error'])}"))
                continue
            caption = f"<b>{name}</b>: read <code>{html.escape(result['text'])}</code>, " \
                      f"confidence {result['confidence']:.3f}"
            rows.append(widgets.HBox([widgets.Image(value=data, width=width), widgets.HTML(caption)]))
        shown.children = rows

    upload.observe(on_upload, names="value")
    return widgets.VBox([upload, shown])
