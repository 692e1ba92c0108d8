// Debian's Chromium, driven by playwright-core (no browser download): where it is, and how to start it.
import { existsSync } from "node:fs";

import { chromium } from "playwright-core";

/** The Chromium binary: CHROMIUM_PATH, else Debian's. Null when there is none. */
export function chromiumPath() {
  // Debian's package first; GitHub's Ubuntu runners carry Google Chrome instead.
  const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"];
  return candidates.find((path) => path && existsSync(path)) ?? null;
}

/**
 * Headless, with the flags this machine's closed network needs (no background connections to Google's
 * hosts), in a fresh profile.
 */
export function launch() {
  return chromium.launch({
    executablePath: chromiumPath() ?? undefined,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}
