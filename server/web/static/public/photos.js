// Photos as the report page sends them: an ordinary phone photo as it is (its EXIF places it, which the
// operators check), a larger one (over MAX_SIDE px on its long side, or over MAX_BYTES) shrunk here to
// MAX_SIDE px as a JPEG, so that it fits the public limits (16 MP and 8 MB a photo) instead of being
// refused. A file the browser cannot read as an image goes as it is: the server says what to send.
export const MAX_SIDE = 4000;
export const MAX_BYTES = 8 * 1024 * 1024;

export async function fitForUpload(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file); // turned upright as its EXIF says
  } catch {
    return file;
  }
  const { width, height } = bitmap;
  if (Math.max(width, height) <= MAX_SIDE && file.size <= MAX_BYTES) {
    bitmap.close();
    return file;
  }
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  if (!blob) return file;
  return new File([blob], file.name.replace(/\.[^.]*$/, "") + ".jpg", { type: "image/jpeg" });
}
