// A QR code drawn as one SVG path: crisp at any size, no canvas, no HTML strings.

import qrcode from 'qrcode-generator';
import { useMemo } from 'react';

/** QR byte mode wants bytes; hand it the UTF-8 encoding, one char per byte. */
function utf8Binary(s: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(s)) out += String.fromCharCode(b);
  return out;
}

export function Qr({ value, size = 220, label }: { value: string; size?: number; label: string }) {
  const { path, count } = useMemo(() => {
    const qr = qrcode(0, 'M');
    qr.addData(utf8Binary(value), 'Byte');
    qr.make();
    const n = qr.getModuleCount();
    let d = '';
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        if (!qr.isDark(y, x)) continue;
        // Merge runs of dark modules on a row into one rectangle.
        let run = 1;
        while (x + run < n && qr.isDark(y, x + run)) run++;
        d += `M${x + 4} ${y + 4}h${run}v1h-${run}z`;
        x += run - 1;
      }
    }
    return { path: d, count: n + 8 };
  }, [value]);

  return (
    <svg
      className="qr"
      data-testid="qr"
      role="img"
      aria-label={label}
      width={size}
      height={size}
      viewBox={`0 0 ${count} ${count}`}
      shapeRendering="crispEdges"
    >
      <rect width={count} height={count} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}
