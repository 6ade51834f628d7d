/**
 * Worker-thread entry of the render pool (render-pool.ts): renders one image per task. Refusals come back as values
 * (an Error's own fields do not survive the thread boundary).
 */
import { PixelError, renderImage } from './render';
import type { RenderedImage, RenderOptions } from './render';
import type { PixelFailure } from './pixels';

export interface RenderTask {
  bytes: Uint8Array;
  options: RenderOptions;
}

export type RenderOutcome =
  | ({ ok: true } & RenderedImage)
  | { ok: false; reason: PixelFailure; message: string; transferSyntax?: string };

export default async function render(task: RenderTask): Promise<RenderOutcome> {
  try {
    return { ok: true, ...(await renderImage(task.bytes, task.options)) };
  } catch (e) {
    if (e instanceof PixelError) return { ok: false, reason: e.reason, message: e.message, transferSyntax: e.transferSyntax };
    throw e;
  }
}
