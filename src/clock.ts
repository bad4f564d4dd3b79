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

/** Milliseconds in a UTC day (no leap seconds in Unix time). */
export const DAY_MS = 86_400_000;
/** The last day isoDate() formatted: a query asks for today's date several times, and formatting costs more than the check. */
let lastDay = Number.NaN;
let lastDate = "";

/** Today's calendar date in UTC, YYYY-MM-DD. */
export function isoDate(d: Date): string {
  const day = Math.floor(d.getTime() / DAY_MS);
  if (day === lastDay) return lastDate;
  // An invalid date throws here, as it always did (NaN never equals the last day).
  const date = d.toISOString().slice(0, 10);
  lastDay = day;
  lastDate = date;
  return date;
}
