/** Time source, injected so that tests can move time (consent expiry, dispute deadlines). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that tests move by hand. */
export class ManualClock implements Clock {
  private t: number;
  constructor(start: Date | string = "2026-01-01T00:00:00Z") {
    this.t = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  set(when: Date | string): void {
    this.t = new Date(when).getTime();
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Today's calendar date in UTC, YYYY-MM-DD. */
export function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}
