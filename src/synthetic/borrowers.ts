import { createRng, type Rng } from "./prng.js";
import { generateResidentId } from "./resident-id.js";

/** A synthetic borrower's raw identity, as a furnisher would hold it. */
export interface Borrower {
  idNumber: string;
  name: string;
  phone: string;
}

// Common surnames and given-name characters, combined at random: the names are
// plausible but belong to nobody in particular.
const SURNAMES = [..."王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"];
const GIVEN = [..."伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂文华建国晓红玉志海燕鹏飞宇欣怡子涵浩然雨萱梓轩思远佳琪俊杰嘉欣博文一鸣雅婷晨阳诗雨天佑子墨若曦宏伟丹凤春梅秋菊冬雪振东立新宁静安康"];

// Mobile prefixes in use by the three carriers.
const MOBILE_PREFIXES = [
  "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
  "150", "151", "152", "153", "155", "156", "157", "158", "159",
  "166", "172", "173", "175", "176", "177", "178",
  "180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
  "191", "195", "198", "199",
];

export function generateName(rng: Rng): string {
  const given = rng.chance(0.7) ? rng.pick(GIVEN) + rng.pick(GIVEN) : rng.pick(GIVEN);
  return rng.pick(SURNAMES) + given;
}

export function generatePhone(rng: Rng): string {
  return rng.pick(MOBILE_PREFIXES) + String(rng.int(0, 99_999_999)).padStart(8, "0");
}

export function generateBorrower(rng: Rng): Borrower {
  return { idNumber: generateResidentId(rng), name: generateName(rng), phone: generatePhone(rng) };
}

/** `count` borrowers with distinct ID numbers; the same seed always gives the same list. */
export function generateBorrowers(seed: number | string, count: number): Borrower[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  const rng = createRng(seed).fork("borrowers");
  const seen = new Set<string>();
  const out: Borrower[] = [];
  while (out.length < count) {
    const b = generateBorrower(rng);
    if (seen.has(b.idNumber)) continue;
    seen.add(b.idNumber);
    out.push(b);
  }
  return out;
}
