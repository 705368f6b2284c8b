import { useLayoutEffect, type RefObject } from 'react';

/** Grows a textarea with its text, up to its CSS max-height. */
export function useAutoGrow(ref: RefObject<HTMLTextAreaElement | null>, text: string): void {
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${el.scrollHeight}px`;
  }, [ref, text]);
}
