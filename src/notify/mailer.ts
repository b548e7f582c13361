import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../config/schema.js';
import type { RenderedMail } from './templates.js';

export interface OutgoingMail extends RenderedMail {
  to: string[];
  /** The delivery's idempotency key: it becomes the Message-ID, so a resent copy is recognisable. */
  deliveryKey: string;
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<{ code: number }>;
  close(): void;
}

/** A transport from config.mail; null when mail is switched off (transport: none). */
export function createMailer(mail: Config['mail']): Mailer | null {
  if (mail.transport === 'none') return null;
  const transporter: Transporter =
    mail.transport === 'sendmail'
      ? nodemailer.createTransport({ sendmail: true, path: mail.sendmailPath, newline: 'unix' })
      : nodemailer.createTransport({
          pool: true,
          maxConnections: 2,
          host: mail.host,
          port: mail.port,
          secure: mail.secure,
          auth: mail.user ? { user: mail.user, pass: mail.password } : undefined,
          connectionTimeout: 10_000,
          greetingTimeout: 10_000,
          socketTimeout: 30_000,
        });
  return {
    async send(m) {
      // Resolves only once the server accepted the message (250 after DATA).
      const info = await transporter.sendMail({
        from: mail.from,
        replyTo: mail.replyTo || undefined,
        to: m.to,
        subject: m.subject,
        text: m.text,
        html: m.html,
        messageId: `<${m.deliveryKey.replace(/[^\w.:-]/g, '_')}@smartmissedcalls>`,
        headers: { 'X-SMC-Delivery': m.deliveryKey },
      });
      if (info.accepted.length === 0) throw new Error(`no recipient accepted: ${info.response}`);
      return { code: Number(/^\d{3}/.exec(String(info.response ?? ''))?.[0] ?? 250) };
    },
    close() {
      transporter.close();
    },
  };
}
