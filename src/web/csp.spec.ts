import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { VIEWER_INLINE_STYLES, VIEWER_VIEWPORT_ID, viewerStyleSources } from './csp';

const root = path.resolve(__dirname, '../..');

describe('the viewer’s inline style allowance', () => {
  it('is the very style Cornerstone3D tools write on box labels, for the viewport id the page uses', () => {
    // The library builds it from a fixed prefix and the annotation layer's id (`svg-layer-<viewport id>`).
    const source = readFileSync(
      path.join(root, 'node_modules/@cornerstonejs/tools/dist/esm/drawingSvg/drawTextBox.js'),
      'utf8',
    );
    const prefix = /const noSelectStyle = '([^']*)';/.exec(source)?.[1];
    expect(prefix).toBeDefined();
    expect(source).toContain('const dropShadowStyle = `filter:url(#shadow-${svgDrawingHelper.svgLayerElement.id});`;');
    expect(source).toContain("textElement.setAttribute('style', combinedStyle);");
    const layer = readFileSync(path.join(root, 'node_modules/@cornerstonejs/tools/dist/esm/store/addEnabledElement.js'), 'utf8');
    expect(layer).toContain('const svgLayerId = `svg-layer-${viewportId}`;');
    expect(VIEWER_INLINE_STYLES).toEqual([`${prefix}filter:url(#shadow-svg-layer-${VIEWER_VIEWPORT_ID});`]);
    // …and the page's viewer uses that viewport id.
    expect(readFileSync(path.join(root, 'src/web/public/viewer.js'), 'utf8')).toContain(
      `export const VIEWPORT_ID = '${VIEWER_VIEWPORT_ID}';`,
    );
  });

  it('allows those exact attribute values by hash, never inline styles at large', () => {
    const sources = viewerStyleSources();
    expect(sources[0]).toBe("'unsafe-hashes'");
    expect(sources).not.toContain("'unsafe-inline'");
    expect(sources.slice(1)).toEqual(
      VIEWER_INLINE_STYLES.map((s) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`),
    );
  });
});
