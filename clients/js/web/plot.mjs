// A live plot of per-frame keyword probabilities on a canvas: one line per keyword over the
// last `span` frames, the thresholds dashed, and each event marked with its keyword.

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export class ScorePlot {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
  }

  /** Start over for a model: labels (index 0 and 1 are not keywords), thresholds per keyword. */
  reset(labels, thresholds, frameSeconds, span = 125) {
    Object.assign(this, { labels, thresholds, frameSeconds, span, rows: [], events: [] });
    this.draw();
  }

  /** Append probabilities (Float32Array, frames * labels) and events ({keyword, frame}). */
  add(probs, events = []) {
    const L = this.labels.length;
    for (let f = 0; f < probs.length / L; f++) this.rows.push(probs.slice(f * L + 2, (f + 1) * L));
    this.events.push(...events);
    this.draw();
  }

  draw() {
    const { ctx, canvas } = this, w = canvas.width, h = canvas.height, pad = 28;
    ctx.clearRect(0, 0, w, h);
    ctx.font = '22px system-ui, sans-serif';
    if (!this.rows) return;
    const first = Math.max(0, this.rows.length - this.span);
    const x = (frame) => pad + ((frame - first) / Math.max(1, this.span - 1)) * (w - 2 * pad);
    const y = (p) => h - pad - p * (h - 2 * pad);
    ctx.strokeStyle = '#ccc';
    ctx.strokeRect(pad, pad, w - 2 * pad, h - 2 * pad);
    const keywords = this.labels.slice(2);
    keywords.forEach((word, k) => {
      ctx.strokeStyle = COLOURS[k % COLOURS.length];
      ctx.setLineDash([8, 8]);
      ctx.beginPath();
      ctx.moveTo(pad, y(this.thresholds[k]));
      ctx.lineTo(w - pad, y(this.thresholds[k]));
      ctx.globalAlpha = 0.25;
      ctx.stroke();
      ctx.globalAlpha = 1;
      ctx.setLineDash([]);
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      for (let f = first; f < this.rows.length; f++) ctx[f === first ? 'moveTo' : 'lineTo'](x(f), y(this.rows[f][k]));
      ctx.stroke();
    });
    for (const e of this.events.filter((ev) => ev.frame >= first)) {
      ctx.fillStyle = COLOURS[keywords.indexOf(e.keyword) % COLOURS.length];
      ctx.fillText(e.keyword, x(e.frame) - 10, pad - 4);
    }
    ctx.fillStyle = '#666';
    ctx.fillText(`${((this.rows.length * this.frameSeconds) || 0).toFixed(1)} s`, w - pad - 70, h - 4);
  }
}
