import { join } from 'node:path';
import ejs from 'ejs';
import { findModuleDir } from '../config/module-dir.js';
import type { Translate } from '../detect/explain.js';
import { Catalogues, defaultI18nDir, Formats, type Lang } from '../web/i18n.js';

export type MailTemplate = 'realtime' | 'held-summary' | 'digest' | 'escalation';

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/**
 * Mails are rendered from views/mail/<name>.html.ejs and <name>.text.ejs in the tenant's
 * language; both get `t` (gettext, English msgids) and `f` (dates, numbers, percents).
 */
export class MailRenderer {
  private readonly viewsDir: string;
  private readonly catalogues: Catalogues;

  constructor(root = findModuleDir(), catalogues?: Catalogues) {
    this.viewsDir = join(root, 'views', 'mail');
    this.catalogues = catalogues ?? new Catalogues(defaultI18nDir(root));
  }

  translator(lang: Lang): Translate {
    return this.catalogues.translator(lang);
  }

  async render(template: MailTemplate, lang: Lang, subject: (t: Translate) => string, data: Record<string, unknown>): Promise<RenderedMail> {
    const t = this.translator(lang);
    const locals = { ...data, t, f: new Formats(lang, t), lang };
    const [html, text] = await Promise.all([
      ejs.renderFile(join(this.viewsDir, `${template}.html.ejs`), locals, { async: false }),
      ejs.renderFile(join(this.viewsDir, `${template}.text.ejs`), { ...locals }, { async: false, escape: (s: unknown) => String(s ?? '') }),
    ]);
    return { subject: subject(t), html, text: text.replace(/\n{3,}/g, '\n\n').trim() + '\n' };
  }
}
