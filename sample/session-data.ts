import type { Language } from './i18n.js';

export const THEMES = ['light', 'dark', 'sepia'] as const;
export type Theme = (typeof THEMES)[number];

export function isTheme(value: unknown): value is Theme {
  return typeof value === 'string' && (THEMES as readonly string[]).includes(value);
}

export interface SignedInUser {
  id: number;
  username: string;
  name: string;
  signedInAt: string;
}

// Types session.get()/set() for the keys this app keeps (the library's SessionData is empty on purpose).
declare module 'nest-session' {
  interface SessionData {
    user: SignedInUser;
    language: Language;
    theme: Theme;
    /** Kept by the 'cookie' driver only: the theme this browser remembers after sign-out. */
    rememberedTheme: Theme;
  }
}
