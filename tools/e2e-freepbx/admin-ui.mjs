// The FreePBX 17 admin web UI driven as an administrator would drive it, in Debian's Chromium
// (playwright-core): login, Module Admin upload / install / upgrade / uninstall, Apply Config,
// pages and screenshots. Every step logs what the page said.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

export class AdminUi {
  /**
   * @param {{ base: string, user: string, password: string, shots: string, log: (line: string) => void }} options
   */
  constructor(options) {
    this.options = options;
    mkdirSync(options.shots, { recursive: true });
    /** @type {string[]} */
    this.problems = [];
    /** @type {import('playwright-core').Browser | null} */
    this.browser = null;
    /** @type {import('playwright-core').Page} */
    this.page = /** @type {any} */ (null);
  }

  async start() {
    this.browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const context = await this.browser.newContext({ viewport: { width: 1400, height: 1000 } });
    this.page = await context.newPage();
    this.page.on('pageerror', (e) => this.problems.push(`page error: ${String(e).slice(0, 300)}`));
    this.page.on('response', (r) => {
      if (r.status() >= 500) this.problems.push(`HTTP ${r.status()} ${r.url()}`);
    });
    await this.login();
  }

  async stop() {
    await this.browser?.close();
  }

  async login() {
    const { base, user, password } = this.options;
    await this.page.goto(`${base}/admin/config.php`, { waitUntil: 'networkidle' });
    if (!(await this.page.locator('input[name=username]').count())) return;
    // The login form opens in a dialog behind the "FreePBX Administration" icon.
    if (!(await this.page.locator('input[name=username]:visible').count())) await this.page.click('#login_admin');
    await this.page.locator('input[name=username]:visible').first().fill(user);
    await this.page.locator('input[name=password]:visible').first().fill(password);
    await Promise.all([this.page.waitForLoadState('networkidle'), this.page.locator('button:has-text("Continue"):visible').first().click()]);
    await this.page.waitForTimeout(1500);
    if (await this.page.locator('input[name=username]:visible').count()) throw new Error(`FreePBX refused the login of ${user}`);
  }

  /** @param {string} name */
  async shot(name) {
    const path = join(this.options.shots, `${name}.png`);
    await this.page.screenshot({ path, fullPage: true });
    this.options.log(`screenshot ${path}`);
    return path;
  }

  /** The visible text of the page, whitespace folded. */
  async text(selector = 'body') {
    return (await this.page.locator(selector).first().innerText()).replace(/\s+/g, ' ').trim();
  }

  /** @param {string} query e.g. `display=smartmissedcalls&view=entries` */
  async open(query) {
    const response = await this.page.goto(`${this.options.base}/admin/config.php?${query}`, { waitUntil: 'networkidle' });
    await this.page.waitForTimeout(800);
    return response?.status() ?? 0;
  }

  /**
   * A GET through FreePBX's ajax.php as the page's own scripts make it (session cookie, Referer).
   * @param {string} query
   */
  async ajax(query) {
    const response = await this.page.request.get(`${this.options.base}/admin/ajax.php?${query}`, {
      headers: { Referer: `${this.options.base}/admin/config.php`, 'X-Requested-With': 'XMLHttpRequest' },
    });
    return { status: response.status(), body: await response.text(), headers: response.headers() };
  }

  /** Admin → Module Admin → Upload modules → the tarball; returns what the page said. @param {string} tgz */
  async uploadModule(tgz) {
    // Through the buttons: a direct URL to the upload form trips FreePBX's Referer check.
    await this.open('display=modules');
    await Promise.all([this.page.waitForLoadState('networkidle'), this.page.locator('text=Upload modules').first().click()]);
    await this.page.selectOption('#local-type', 'upload');
    await this.page.setInputFiles('input[name=uploadmod]', tgz);
    await Promise.all([this.page.waitForLoadState('networkidle'), this.page.click('#upload')]);
    await this.page.waitForTimeout(1000);
    return this.text('#page_body, body');
  }

  /**
   * Module Admin: open the module's row, choose the action, Process, Confirm, and wait for the
   * status dialog; returns its text.
   * @param {string} rawname
   * @param {'install' | 'uninstall'} action  (an uploaded newer version is installed over the old one)
   */
  async moduleAction(rawname, action) {
    await this.open('display=modules');
    await this.page.locator(`#fullmodule_${rawname}`).first().click();
    await this.page.waitForTimeout(800);
    const label = this.page.locator(`label[for="${action}_${rawname}"]`).first();
    if ((await label.count()) && (await label.isVisible())) await label.click();
    else await this.page.locator(`#${action}_${rawname}`).first().check({ force: true });
    await Promise.all([this.page.waitForLoadState('networkidle'), this.page.locator('input[name=process][value=Process]').first().click()]);
    await this.page.waitForTimeout(1000);
    await this.page.locator('input[type=button][value=Confirm]').first().click();
    for (let i = 0; i < 150; i++) {
      await this.page.waitForTimeout(2000);
      if (await this.page.locator('#moduleBoxContents a, #moduledialogwrapper a:has-text("Return")').count()) break;
    }
    return this.text('#moduledialogwrapper').catch((err) => `no status dialog: ${err.message}`);
  }

  /** The red "Apply Config" button, and the reload it starts. */
  async applyConfig() {
    await this.open('display=index');
    const button = this.page.locator('#button_reload:visible');
    if (!(await button.count())) return 'nothing to apply';
    await button.click();
    for (let i = 0; i < 60; i++) {
      await this.page.waitForTimeout(2000);
      if (!(await this.page.locator('#button_reload:visible').count())) return 'applied';
    }
    throw new Error('Apply Config did not finish within 2 minutes');
  }
}
