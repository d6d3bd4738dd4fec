/** QR code rendering for the client (the `qrcode` package is loaded only when a QR is shown). */

export interface QrOptions {
  /** width in px of the PNG (default 240) */
  width?: number;
  /** quiet zone in modules (default 2) */
  margin?: number;
}

/** Renders `text` to a PNG data URL (needs a DOM canvas: H5 / App webview). */
export async function qrDataUrl(text: string, options: QrOptions = {}): Promise<string> {
  const mod = await import('qrcode');
  const qr = (mod as unknown as { default?: typeof mod }).default || mod;
  return qr.toDataURL(text, { width: options.width ?? 240, margin: options.margin ?? 2, errorCorrectionLevel: 'M' });
}

/** Accepts the server's `qrcodeImage` with or without the data URL prefix. */
export function normalizeQrImage(image: string | undefined | null): string {
  if (!image) return '';
  return image.startsWith('data:') ? image : `data:image/png;base64,${image}`;
}
