/** A progress bar with items/s and ETA on a terminal; plain lines every few seconds otherwise. */

export interface ProgressSnapshot {
  label: string;
  /** 0..1, or undefined when unknown. */
  fraction: number | undefined;
  items: number;
  detail?: string;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function renderBar(fraction: number, width = 24): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export class Progress {
  private readonly started = Date.now();
  private lastPlain = 0;
  private lastWidth = 0;
  private timer: NodeJS.Timeout | undefined;
  private current: ProgressSnapshot | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream | { isTTY?: boolean; write(text: string): boolean },
    private readonly plainEveryMs = 5000,
  ) {}

  start(): void {
    if (this.out.isTTY) this.timer = setInterval(() => this.draw(), 200);
  }

  update(snapshot: ProgressSnapshot): void {
    this.current = snapshot;
    if (!this.out.isTTY && Date.now() - this.lastPlain >= this.plainEveryMs) {
      this.lastPlain = Date.now();
      this.out.write(`${this.line()}\n`);
    }
  }

  line(): string {
    const s = this.current;
    if (!s) return '';
    const elapsed = (Date.now() - this.started) / 1000;
    const rate = elapsed > 0 ? s.items / elapsed : 0;
    const eta = s.fraction && s.fraction > 0 ? (elapsed / s.fraction) * (1 - s.fraction) : Number.NaN;
    const percent = s.fraction === undefined ? '' : `${renderBar(s.fraction)} ${(s.fraction * 100).toFixed(1).padStart(5)}% `;
    return `${s.label} ${percent}${s.items.toLocaleString('en-US')} items ${Math.round(rate).toLocaleString('en-US')} items/s ETA ${formatDuration(eta)}${s.detail ? ` ${s.detail}` : ''}`;
  }

  private draw(): void {
    const text = this.line();
    this.out.write(`\r${text}${' '.repeat(Math.max(0, this.lastWidth - text.length))}`);
    this.lastWidth = text.length;
  }

  /** Ends this bar (its last state stays on screen). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.out.isTTY) {
      this.draw();
      this.out.write('\n');
    } else if (this.current) this.out.write(`${this.line()}\n`);
  }
}
