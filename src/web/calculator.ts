import type { Request, Response, Router } from 'express';
import { viewerOf } from './auth.js';
import type { WebContext } from './context.js';
import { addDays } from './filters.js';
import { todayOf } from './dashboard-queries.js';
import { renderPage } from './render.js';

export interface CalculatorInput {
  callsPerDay: number;
  lossRatePct: number;
  conversionPct: number;
  dealValue: number;
  recoveryPct: number;
}

/** Working days in a month, for the monthly figures. */
export const DAYS_PER_MONTH = 22;

export function calculate(i: CalculatorInput): { missedPerMonth: number; lostPerMonth: number; recoverablePerMonth: number } {
  const missedPerMonth = i.callsPerDay * DAYS_PER_MONTH * (i.lossRatePct / 100);
  const lostPerMonth = missedPerMonth * (i.conversionPct / 100) * i.dealValue;
  return { missedPerMonth, lostPerMonth, recoverablePerMonth: lostPerMonth * (i.recoveryPct / 100) };
}

function num(req: Request, name: string, fallback: number, max: number): number {
  const v = Number(typeof req.query[name] === 'string' ? String(req.query[name]).replace(',', '.') : NaN);
  return Number.isFinite(v) && v >= 0 ? Math.min(v, max) : fallback;
}

export function calculatorRoutes(router: Router, ctx: WebContext): void {
  router.get('/calculator', async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    // Prefilled from the last 30 days as measured: inbound calls a working day and the team miss rate.
    const today = await todayOf(viewer.scope);
    const [measured] = await viewer.scope.rows<{ inbound: number; missed: number; days: number }>(
      `SELECT COUNT(*) AS inbound, COALESCE(SUM(verdict = 'missed'), 0) AS missed, COUNT(DISTINCT DATE(started_at)) AS days
         FROM smart_missed_calls_calls WHERE tenant = @tenant AND started_at >= ? AND direction = 'inbound'
          AND verdict IN ('missed', 'answered', 'abandoned')`,
      [`${addDays(today, -29)} 00:00:00`],
    );
    const inbound = Number(measured?.inbound ?? 0);
    const measuredRate = inbound ? Math.round((1000 * Number(measured!.missed)) / inbound) / 10 : null;
    const measuredPerDay = inbound ? Math.round(inbound / Math.max(1, Number(measured!.days))) : null;
    const input: CalculatorInput = {
      callsPerDay: num(req, 'calls', measuredPerDay ?? 100, 1_000_000),
      lossRatePct: num(req, 'loss', measuredRate ?? 10, 100),
      conversionPct: num(req, 'conversion', 20, 100),
      dealValue: num(req, 'value', 500, 1e9),
      recoveryPct: num(req, 'recovery', 50, 100),
    };
    await renderPage(ctx, res, 'calculator', {
      view: 'calculator',
      input,
      result: calculate(input),
      measuredRate,
      daysPerMonth: DAYS_PER_MONTH,
    });
  });
}
