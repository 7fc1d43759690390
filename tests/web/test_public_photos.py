"""The report page's photos in Debian's Chromium: an ordinary phone photo goes as it is (its EXIF kept), a
larger one is shrunk in the browser to what the public limits take, instead of being refused."""

from __future__ import annotations

from server.config import get_settings
from tests.web.test_map import WAIT_MS

FIT = """async ([width, height]) => {
  const { fitForUpload, MAX_SIDE } = await import("/static/public/photos.js");
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  context.fillStyle = "#996633";
  context.fillRect(0, 0, width, height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  const file = new File([blob], "camera.jpeg", { type: "image/jpeg" });
  const sent = await fitForUpload(file);
  const bitmap = await createImageBitmap(sent);
  return { same: sent === file, width: bitmap.width, height: bitmap.height, type: sent.type,
           name: sent.name, maxSide: MAX_SIDE };
}"""


def test_the_page_shrinks_only_photos_over_the_public_limits(web_server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    try:
        page = context.new_page()
        page.goto(f"{web_server.url}/report")
        page.wait_for_selector("#report", timeout=WAIT_MS)

        ordinary = page.evaluate(FIT, [4000, 3000])  # a 12 MP phone photo
        assert ordinary == {
            "same": True, "width": 4000, "height": 3000, "type": "image/jpeg", "name": "camera.jpeg",
            "maxSide": 4000,
        }  # fmt: skip

        large = page.evaluate(FIT, [8160, 6120])  # a 50 MP phone photo
        assert not large["same"]
        assert (large["width"], large["height"], large["type"], large["name"]) == (
            4000,
            3000,
            "image/jpeg",
            "camera.jpg",
        )
        assert large["width"] * large["height"] <= get_settings().public_photo_max_pixels
    finally:
        context.close()
