/**
 * Full-width ASCII forms (U+FF01–U+FF5E: "１３８", "Ｘ", "＋") as their ASCII
 * counterparts, and the ideographic space as a space. Core systems and forms
 * typed with a Chinese input method export identifiers that way; only this
 * block is folded (not NFKC as a whole), so "①" or "¹" stay what they are and
 * are refused as digits.
 */
export function foldFullWidth(text: string): string {
  return text.replace(/[\uff01-\uff5e\u3000]/g, (c) => (c === "\u3000" ? " " : String.fromCharCode(c.charCodeAt(0) - 0xfee0)));
}
