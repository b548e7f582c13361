/** Something `smc serve` runs: started in list order, stopped in reverse. */
export interface Service {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RunningServices {
  /** Resolves once every service started; rejects with the first start's error, after stopping those started. */
  started: Promise<void>;
  /** Stops what started, in reverse order, then runs `afterAll`; once, whoever asks first. */
  stop(reason: string): Promise<void>;
}

/**
 * Starts `services` one after another. A stop asked for while one is starting (a SIGTERM
 * right after the pages answered) waits for that start to finish and stops it with the others,
 * and no further one starts: a service left out would keep its timers, and the process, alive.
 */
export function runServices(services: Service[], afterAll: () => Promise<void>, log: (line: string) => void): RunningServices {
  const started: Service[] = [];
  let stopRequested = false;
  let stopping: Promise<void> | null = null;

  const startEach = async () => {
    for (const s of services) {
      if (stopRequested) return;
      await s.start();
      started.push(s);
    }
  };
  /** Settles when no start is in flight any more: with the error a start threw, or null. */
  const startsSettled = startEach().then(() => null, (err: unknown) => ({ err }));

  const stop = (reason: string): Promise<void> => {
    stopRequested = true;
    stopping ??= (async () => {
      log(`stopping (${reason})`);
      await startsSettled;
      for (const s of [...started].reverse()) {
        try {
          await s.stop();
        } catch (err) {
          log(`${s.name} did not stop cleanly: ${(err as Error).message}`);
        }
      }
      await afterAll();
    })();
    return stopping;
  };

  const startedAll = startsSettled.then(async (failure) => {
    if (!failure) return;
    await stop('start failed');
    throw failure.err;
  });
  return { started: startedAll, stop };
}
