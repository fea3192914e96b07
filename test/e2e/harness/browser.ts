import { execFileSync } from 'node:child_process';

import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

import { OWNER } from './N8nInstance';
import type { N8nInstance } from './N8nInstance';

/** How long the editor may take for one step (n8n's first page load compiles a lot on a busy machine). */
export const UI_TIMEOUT_MS = 30_000;

/**
 * Debian's Chromium, headless, as root (`--no-sandbox`), never a downloaded browser; without the
 * background-networking flags Chromium keeps knocking at a network this machine does not have.
 */
export async function openEditorPage(): Promise<{ browser: Browser; page: Page }> {
	const browser = await chromium.launch({
		executablePath: execFileSync('sh', ['-c', 'command -v chromium']).toString().trim(),
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
	});
	const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
	page.setDefaultTimeout(UI_TIMEOUT_MS);
	return { browser, page };
}

/** Signs the owner in through n8n's sign-in form. */
export async function signIn(page: Page, n8n: N8nInstance): Promise<void> {
	await page.goto(`${n8n.baseUrl}/signin`);
	await page.locator('input[name="emailOrLdapLoginId"], input[type="email"]').first().fill(OWNER.email);
	await page.locator('input[name="password"], input[type="password"]').first().fill(OWNER.password);
	await page.locator('[data-test-id="form-submit-button"], button[type="submit"]').first().click();
	await page.waitForURL((url) => !url.pathname.startsWith('/signin'));
}
