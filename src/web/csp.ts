import { createHash } from 'node:crypto';

/**
 * The viewer's viewport id (src/web/public/viewer.js `VIEWPORT_ID`): Cornerstone3D names the annotation layer
 * `svg-layer-<viewport id>` and the drop shadow of its text boxes after it.
 */
export const VIEWER_VIEWPORT_ID = 'readflow-film';

/**
 * The only inline style the page writes as a style attribute: Cornerstone3D tools' `drawTextBox` puts it on the label
 * of each box (`textElement.setAttribute('style', …)`). Everything else is set through the CSSOM or the page's own
 * stylesheet. A test compares it with the library's source, so an upgrade that changes it is noticed.
 */
export const VIEWER_INLINE_STYLES: readonly string[] = [
  `user-select: none; pointer-events: none; -webkit-tap-highlight-color:  rgba(255, 255, 255, 0);filter:url(#shadow-svg-layer-${VIEWER_VIEWPORT_ID});`,
];

/** CSP source expressions allowing exactly those style attributes (`'unsafe-hashes'` with their hashes, no `'unsafe-inline'`). */
export function viewerStyleSources(): string[] {
  return ["'unsafe-hashes'", ...VIEWER_INLINE_STYLES.map((s) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`)];
}
