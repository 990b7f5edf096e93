// Figure export: the SVG as drawn, or rasterised to PNG on the theme's background.
import type { FigureKind } from '../src/shared/webviewProtocol.js';
import { toHex } from '../src/shared/colorScale.js';
import { svgText, svgToPng, themeColor } from './dom.js';
import { post } from './panel.js';

const FIGURE_IDS: Record<FigureKind, string> = {
  scoreMap: 'score-map',
  ablation: 'ablation-plot',
  compare: 'compare-scatter',
  kvwhatif: 'kvwhatif-plot',
};

export async function exportFigure(figure: FigureKind, format: 'svg' | 'png'): Promise<void> {
  const svg = document.querySelector<SVGSVGElement>(`[data-testid="${FIGURE_IDS[figure]}"]`);
  if (!svg) {
    post({ type: 'error', message: `no ${figure} figure to export` });
    return;
  }
  try {
    const data = format === 'svg' ? svgText(svg) : await svgToPng(svg, toHex(themeColor('--vscode-editor-background', '#1e1e1e')));
    post({ type: 'figure', figure, format, data });
  } catch (e) {
    post({ type: 'error', message: `export failed: ${(e as Error).message}` });
  }
}
