import { describe, expect, it } from 'vitest';
import { fastDecimal } from '../../src/core/decimal.js';
import { jsonNumberValue } from '../../src/core/json-numbers.js';
import { parseCsvNumber } from '../../src/model-server/records.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');
const fast = (text: string) => fastDecimal(bytes(text), 0, text.length);

describe('fastDecimal (the one fast decimal parser)', () => {
  it('gives exactly the double Number() gives, or declines', () => {
    const cases = [
      '0',
      '-0',
      '+0',
      '7',
      '-7',
      '+7',
      '0.5',
      '.5',
      '-.5',
      '5.',
      '00012.50',
      '123456789012345',
      '0.1',
      '0.2',
      '0.3',
      '1.79769313486231',
      '-12.345e3',
      '1e22',
      '1E-22',
      '2.5e+5',
      '9.99999999999999',
      '4.35',
      '0.000001',
      '1e0',
      '1e-0',
      '3.14159e-7',
    ];
    for (const text of cases) {
      const value = fast(text);
      expect(value, text).toBeDefined();
      expect(Object.is(value, Number(text)), `${text}: ${value} vs ${Number(text)}`).toBe(true);
    }
  });

  it('declines what the fast path cannot compute exactly, and what is no decimal', () => {
    // 16+ significant digits, powers of ten past 22, huge and tiny values: left to Number().
    for (const text of [
      '1234567890123456',
      '0.12345678901234567',
      '1e23',
      '1e-23',
      '1e308',
      '4.9e-324',
      '1e400',
      '1e99999',
    ]) {
      expect(fast(text), text).toBeUndefined();
    }
    for (const text of [
      '',
      '-',
      '+',
      '.',
      'e5',
      '1e',
      '1e+',
      '1.2.3',
      '1,5',
      ' 1',
      '1 ',
      'nan',
      'inf',
      '0x10',
      '1_000',
    ]) {
      expect(fast(text), JSON.stringify(text)).toBeUndefined();
    }
  });

  it('matches Number() on random decimals with signs, points and exponents', () => {
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const digits = (n: number) => Array.from({ length: n }, () => String(random(10))).join('');
    for (let k = 0; k < 20_000; k++) {
      const sign = ['', '-', '+'][random(3)] as string;
      const whole = digits(random(10));
      const fraction = random(2) ? `.${digits(random(10))}` : '';
      const exp = random(3)
        ? ''
        : `${random(2) ? 'e' : 'E'}${['', '-', '+'][random(3)]}${digits(1 + random(2))}`;
      const text = `${sign}${whole}${fraction}${exp}`;
      const value = fast(text);
      if (value !== undefined) expect(Object.is(value, Number(text)), text).toBe(true);
    }
  });

  it('is what both readers use: ParseResults JSON numbers and the model server CSV fields', () => {
    for (const text of ['0.5', '-12.345e3', '1234567890123456789', '1e-320']) {
      expect(jsonNumberValue(bytes(`[${text}]`), 1, text.length + 1), text).toBe(Number(text));
      // The container reads float32-bound doubles the same way: the double, before any narrowing.
      expect(parseCsvNumber(text), text).toBe(Number(text));
    }
    expect(parseCsvNumber(' +.5 ')).toBe(0.5);
    expect(parseCsvNumber('')).toBeNaN();
  });
});
