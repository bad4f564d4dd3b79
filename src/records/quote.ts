/** Error reasons echo bad input so the furnisher can find it, but never at unbounded length. */
export function quote(value: string, max = 40): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}
