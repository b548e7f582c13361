// tools/mariadb.mjs
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, openSync, closeSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
var START_TIMEOUT_MS = 6e4;
var STOP_TIMEOUT_MS = 3e4;
function findBinary(name) {
  for (const dir of [...(process.env.PATH ?? "").split(":").filter(Boolean), "/usr/sbin", "/usr/bin", "/usr/local/sbin"]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new Error(`${name} not found in PATH or /usr/sbin; install Debian's mariadb-server`);
}
function tail(path, lines) {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no error log)";
  }
}
function runAsUser() {
  if (process.getuid?.() !== 0) return [];
  return ["--user=root"];
}
async function answers(socket) {
  if (!existsSync(socket)) return false;
  try {
    const conn = await mysql.createConnection({ socketPath: socket, user: "root", connectTimeout: 1e3 });
    await conn.query("SELECT 1");
    await conn.end();
    return true;
  } catch {
    return false;
  }
}
async function startMariadb({ dir, log = () => {
} }) {
  dir = resolve(dir);
  const dataDir = join(dir, "data");
  const socket = join(dir, "mysql.sock");
  const errorLog = join(dir, "mariadb.err");
  mkdirSync(dataDir, { recursive: true });
  if (readdirSync(dataDir).length === 0) {
    log(`initialising MariaDB data in ${dataDir}`);
    try {
      execFileSync(
        findBinary("mariadb-install-db"),
        ["--no-defaults", `--datadir=${dataDir}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...runAsUser()],
        { stdio: ["ignore", "pipe", "pipe"] }
      );
    } catch (err) {
      const e = (
        /** @type {{ stderr?: Buffer, stdout?: Buffer, message: string }} */
        err
      );
      throw new Error(`mariadb-install-db failed: ${e.message}
${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`);
    }
  }
  const logFd = openSync(errorLog, "a");
  const child = spawn(
    findBinary("mariadbd"),
    [
      "--no-defaults",
      `--datadir=${dataDir}`,
      `--socket=${socket}`,
      "--skip-networking",
      `--pid-file=${join(dir, "mariadb.pid")}`,
      `--log-error=${errorLog}`,
      ...runAsUser(),
      "--innodb-buffer-pool-size=256M",
      "--innodb-flush-log-at-trx-commit=2",
      "--skip-log-bin",
      "--max-connections=500",
      "--character-set-server=utf8mb4",
      "--collation-server=utf8mb4_unicode_ci"
    ],
    { stdio: ["ignore", logFd, logFd] }
  );
  closeSync(logFd);
  const exited = new Promise((resolveExit) => child.once("exit", () => resolveExit()));
  let running = true;
  void exited.then(() => {
    running = false;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!await answers(socket)) {
    if (!running) {
      throw new Error(`mariadbd exited during start-up (code ${child.exitCode}); tail of ${errorLog}:
${tail(errorLog, 25)}`);
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await exited;
      throw new Error(`mariadbd did not answer on ${socket} within ${START_TIMEOUT_MS / 1e3}s; tail of ${errorLog}:
${tail(errorLog, 25)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`MariaDB ready on ${socket}`);
  let stopping = (
    /** @type {Promise<void> | null} */
    null
  );
  return {
    socket,
    dir,
    stop() {
      stopping ??= (async () => {
        if (!running) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    }
  };
}
function schemaDir() {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (; ; ) {
    const candidate = join(dir, "tools", "schema");
    if (existsSync(join(candidate, "freepbx-cdr.sql"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`tools/schema not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}
function statements(text) {
  return text.split("\n").filter((line) => !line.trimStart().startsWith("--")).join("\n").split(";").map((s) => s.trim()).filter(Boolean);
}
function quoted(name) {
  if (!/^\w{1,64}$/.test(name)) throw new Error(`refusing database name '${name}'`);
  return "`" + name + "`";
}
async function loadSchemas(socket, { cdrDb, pbxDb, smcDb = pbxDb }) {
  const conn = await mysql.createConnection({ socketPath: socket, user: "root", multipleStatements: false });
  try {
    const plan = [
      [cdrDb, "freepbx-cdr.sql"],
      [pbxDb, "freepbx-asterisk.sql"],
      [smcDb, null]
    ];
    const created = /* @__PURE__ */ new Set();
    for (const [db2, file] of plan) {
      if (!created.has(db2)) {
        await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoted(db2)} DEFAULT CHARACTER SET utf8mb4`);
        created.add(db2);
      }
      if (!file) continue;
      await conn.query(`USE ${quoted(db2)}`);
      for (const sql of statements(readFileSync(join(schemaDir(), file), "utf8"))) await conn.query(sql);
    }
  } finally {
    await conn.end();
  }
}

// ../../tmp/load.ts
import mysql3 from "mysql2/promise";
import { Readable } from "node:stream";

// src/cdr/generator/pbx.ts
var NAMES = [
  "Andrei Popescu",
  "Maria Ionescu",
  "Ioana Dumitrescu",
  "Mihai Stan",
  "Elena Georgescu",
  "Alexandru Marin",
  "Cristina Tudor",
  "Radu Dobre",
  "Ana Constantin",
  "Bogdan Ene",
  "Simona Barbu",
  "Vlad Nistor",
  "Laura Matei",
  "Florin Lazar",
  "Diana Preda",
  "Ionut Rusu",
  "Gabriela Moldovan",
  "Sorin Florea",
  "Adina Munteanu",
  "Receptie"
];
function extensionRange(from, to) {
  const out = [];
  for (let n = from; n <= to; n++) out.push(String(n));
  return out;
}
function demoPbx() {
  const extensions = extensionRange(101, 120).map((number, i) => ({
    number,
    name: NAMES[i],
    voicemail: number !== "108",
    contact: `192.168.10.${Number(number) - 50}:5060`
  }));
  extensions.find((e) => e.number === "109").followMe = { mobile: "0740999888", ringAloneSeconds: 8, ringTogetherSeconds: 15 };
  extensions.find((e) => e.number === "114").followMe = { mobile: "0745123456", ringAloneSeconds: 10, ringTogetherSeconds: 20 };
  return {
    extensions,
    queues: [
      { number: "400", name: "Sales", strategy: "ringall", members: extensionRange(101, 105), memberTimeoutSeconds: 15, retrySeconds: 5, maxWaitSeconds: null, failover: { kind: "hangup" } },
      { number: "401", name: "Support", strategy: "ringall", members: ["106", "107"], memberTimeoutSeconds: 15, retrySeconds: 5, maxWaitSeconds: 20, failover: { kind: "voicemail", extension: "102" } },
      { number: "402", name: "Billing", strategy: "linear", members: ["110", "111", "112"], memberTimeoutSeconds: 12, retrySeconds: 3, maxWaitSeconds: 90, failover: { kind: "voicemail", extension: "110" } }
    ],
    ringGroups: [
      { number: "600", name: "Office", strategy: "ringall", members: ["101", "102", "103"], ringSeconds: 15, failover: { kind: "hangup" } },
      { number: "601", name: "Service desk", strategy: "hunt", members: ["104", "105", "106"], ringSeconds: 8, failover: { kind: "voicemail", extension: "104" } }
    ],
    ivrs: [
      {
        id: "1",
        name: "Reception",
        timeoutSeconds: 10,
        options: {
          "1": { kind: "queue", queue: "400" },
          "2": { kind: "queue", queue: "401" },
          "3": { kind: "queue", queue: "402" }
        }
      }
    ],
    dids: [
      { number: "0215550100", description: "Sales line", destination: { kind: "queue", queue: "400" }, afterHours: { kind: "voicemail", extension: "101" } },
      { number: "0215550101", description: "Support line", destination: { kind: "queue", queue: "401" }, afterHours: { kind: "voicemail", extension: "102" } },
      { number: "0215550102", description: "Andrei direct", destination: { kind: "extension", extension: "102" } },
      { number: "0215550103", description: "Office", destination: { kind: "ringgroup", group: "600" } },
      { number: "0215550104", description: "Service desk", destination: { kind: "ringgroup", group: "601" } },
      { number: "0215550105", description: "Warehouse", destination: { kind: "extension", extension: "108" } },
      { number: "0215550106", description: "Field engineer", destination: { kind: "extension", extension: "109" } },
      { number: "0215550107", description: "Billing line", destination: { kind: "queue", queue: "402" }, afterHours: { kind: "voicemail", extension: "110" } },
      { number: "0215550199", description: "Main number", destination: { kind: "ivr", ivr: "1" }, afterHours: { kind: "voicemail", extension: "120" } }
    ],
    trunk: "trunk",
    outboundCid: "0215550100",
    outboundPrefix: "9",
    businessHours: { open: 8, close: 18, weekdays: [1, 2, 3, 4, 5] }
  };
}
function findExtension(model, number) {
  const ext = model.extensions.find((e) => e.number === number);
  if (!ext) throw new Error(`extension ${number} is not in the PBX model`);
  return ext;
}
function findQueue(model, number) {
  const queue = model.queues.find((q) => q.number === number);
  if (!queue) throw new Error(`queue ${number} is not in the PBX model`);
  return queue;
}
function findRingGroup(model, number) {
  const group = model.ringGroups.find((g) => g.number === number);
  if (!group) throw new Error(`ring group ${number} is not in the PBX model`);
  return group;
}

// src/cdr/generator/calendar.ts
var HOUR_WEIGHTS = [
  0.1,
  0.05,
  0.03,
  0.03,
  0.03,
  0.05,
  0.15,
  0.7,
  4,
  9,
  10,
  9.5,
  7.5,
  6,
  8.5,
  9,
  8,
  5,
  1.2,
  0.5,
  0.35,
  0.25,
  0.15,
  0.1
];
var WEEKDAY_FACTORS = [0.05, 1, 1, 0.97, 0.95, 0.85, 0.12];
var DAY = 86400;
function dayStart(date) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`'${date}' is not a YYYY-MM-DD date`);
  return Date.parse(`${date}T00:00:00Z`) / 1e3;
}
function weekdayOf(seconds) {
  return new Date(seconds * 1e3).getUTCDay();
}
function callsOnDay(callsPerWeekday, day, rng) {
  const expected = callsPerWeekday * WEEKDAY_FACTORS[weekdayOf(day)];
  return Math.max(0, Math.round(expected * (0.9 + rng.next() * 0.2)));
}
var HOUR_TOTAL = HOUR_WEIGHTS.reduce((a, b) => a + b, 0);
function randomTimeOfDay(day, rng) {
  let roll = rng.next() * HOUR_TOTAL;
  let hour = 0;
  while (hour < 23 && roll >= HOUR_WEIGHTS[hour]) roll -= HOUR_WEIGHTS[hour++];
  return day + hour * 3600 + rng.int(0, 3599);
}
function isBusinessTime(model, seconds) {
  const { open, close, weekdays } = model.businessHours;
  const hour = Math.floor(seconds % DAY / 3600);
  return weekdays.includes(weekdayOf(seconds)) && hour >= open && hour < close;
}

// src/cdr/generator/counters.ts
var AsteriskCounters = class {
  uniqueid;
  pjsip;
  local;
  sequence;
  constructor(start = {}) {
    this.uniqueid = start.uniqueid ?? 0;
    this.pjsip = start.pjsip ?? 0;
    this.local = start.local ?? 0;
    this.sequence = start.sequence ?? 0;
  }
  /** A PJSIP channel to an endpoint (a phone, or the trunk) created at `at` (epoch seconds). */
  pjsipChannel(endpoint, at) {
    return { name: `PJSIP/${endpoint}-${hex8(this.pjsip++)}`, uniqueid: this.nextUniqueid(at) };
  }
  /** Both halves of a Local channel; ;1 faces the caller, ;2 runs the dialplan. */
  localChannel(exten, context, at) {
    const base = `Local/${exten}@${context}-${hex8(this.local++)}`;
    return {
      one: { name: `${base};1`, uniqueid: this.nextUniqueid(at) },
      two: { name: `${base};2`, uniqueid: this.nextUniqueid(at) }
    };
  }
  /** Every CDR object Asterisk creates (one per channel, one per fork) takes a number. */
  nextSequence() {
    return this.sequence++;
  }
  nextUniqueid(at) {
    return `${Math.floor(at)}.${this.uniqueid++}`;
  }
};
function hex8(n) {
  return (n % 4294967296).toString(16).padStart(8, "0");
}

// src/cdr/generator/numbers.ts
var ANONYMOUS = { number: "anonymous", name: "Anonymous" };
function randomMobile(rng) {
  return `07${rng.int(2, 8)}${String(rng.int(0, 9999999)).padStart(7, "0")}`;
}
function randomLandline(rng) {
  if (rng.chance(0.5)) return `021${String(rng.int(0, 9999999)).padStart(7, "0")}`;
  return `0${rng.pick(["264", "256", "232", "268", "241", "351", "364"])}${String(rng.int(0, 999999)).padStart(6, "0")}`;
}
function formatNumber(national, format) {
  if (format === "national") return national;
  const subscriber = national.replace(/^0/, "");
  return format === "plus" ? `+40${subscriber}` : `0040${subscriber}`;
}
function nationalForm(number) {
  if (number.startsWith("+40")) return `0${number.slice(3)}`;
  if (number.startsWith("0040")) return `0${number.slice(4)}`;
  return number;
}
function randomFormat(rng) {
  return rng.weighted({ national: 70, plus: 20, international: 10 });
}
function carrierCaller(number) {
  return { number, name: number };
}
function dialledForCallback(presented, prefix, rng) {
  const national = nationalForm(presented);
  const roll = rng.next();
  if (roll < 0.4) return national;
  if (roll < 0.8) return `${prefix}${national}`;
  return formatNumber(national, "international");
}
function numberSentToTrunk(dialled, prefix) {
  return prefix && dialled.startsWith(prefix + "0") ? dialled.slice(prefix.length) : dialled;
}

// src/cdr/generator/random.ts
var Rng = class _Rng {
  state;
  constructor(seed) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next() {
    this.state = this.state + 1831565813 >>> 0;
    let t = this.state;
    t = Math.imul(t ^ t >>> 15, t | 1);
    t ^= t + Math.imul(t ^ t >>> 7, t | 61);
    return ((t ^ t >>> 14) >>> 0) / 4294967296;
  }
  /** Integer in [min, max], both included. */
  int(min, max) {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(probability) {
    return this.next() < probability;
  }
  pick(items) {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[Math.floor(this.next() * items.length)];
  }
  /** Picks a key with probability proportional to its weight. */
  weighted(weights) {
    const entries = Object.entries(weights);
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let roll = this.next() * total;
    for (const [key, weight] of entries) {
      roll -= weight;
      if (roll < 0) return key;
    }
    return entries[entries.length - 1][0];
  }
  /** Exponentially distributed with the given mean: gaps between independent arrivals. */
  exponential(mean) {
    return -Math.log(1 - this.next()) * mean;
  }
  /** A derived generator, so one part of a plan can draw numbers without shifting another's. */
  fork() {
    return new _Rng(Math.floor(this.next() * 4294967296));
  }
};

// src/cdr/row.ts
var CDR_COLUMNS = [
  "calldate",
  "clid",
  "src",
  "dst",
  "dcontext",
  "channel",
  "dstchannel",
  "lastapp",
  "lastdata",
  "duration",
  "billsec",
  "disposition",
  "uniqueid",
  "linkedid",
  "sequence",
  "did",
  "cnum",
  "cnam",
  "outbound_cnum"
];
function naiveDatetime(seconds) {
  return new Date(Math.round(seconds) * 1e3).toISOString().slice(0, 19).replace("T", " ");
}

// src/cdr/generator/legs.ts
var COLUMN_WIDTH = 80;
var CallRows = class {
  constructor(root, rootSequence, identity, did) {
    this.root = root;
    this.rootSequence = rootSequence;
    this.identity = identity;
    this.did = did;
  }
  root;
  rootSequence;
  identity;
  did;
  rows = [];
  get linkedid() {
    return this.root.uniqueid;
  }
  add(leg) {
    const identity = { ...this.identity, ...leg.identity };
    const billsec = leg.answeredAt === null ? 0 : Math.max(0, leg.end - Math.max(leg.answeredAt, leg.start));
    this.rows.push({
      calldate: naiveDatetime(leg.start),
      clid: cut(identity.clid),
      src: cut(identity.src),
      dst: cut(leg.dst),
      dcontext: leg.dcontext,
      channel: cut(leg.partyA.name),
      dstchannel: cut(leg.partyB ?? ""),
      lastapp: leg.lastapp,
      lastdata: cut(leg.lastdata),
      duration: leg.end - leg.start,
      billsec,
      disposition: leg.disposition,
      uniqueid: leg.partyA.uniqueid,
      linkedid: leg.linkedid ?? this.linkedid,
      sequence: leg.sequence,
      did: leg.did ?? leg.partyA.name === this.root.name ? this.did : "",
      cnum: cut(identity.cnum),
      cnam: cut(identity.cnam),
      outbound_cnum: leg.outbound?.cnum ?? "",
      outbound_cnam: leg.outbound?.cnam ?? "",
      arrival: leg.arrival ?? Number.NaN
    });
  }
  /** The root channel hangs up at `end`: Asterisk dispatches all its records then. */
  finish(end) {
    for (const row of this.rows) if (Number.isNaN(row.arrival)) row.arrival = end;
    return this.rows;
  }
};
function inboundIdentity(caller) {
  return { clid: `"${caller.name}" <${caller.number}>`, src: caller.number, cnum: caller.number, cnam: caller.name };
}
function extensionIdentity(ext) {
  return { clid: `"${ext.name}" <${ext.number}>`, src: ext.number, cnum: ext.number, cnam: ext.name };
}
function deviceDial(ext) {
  return `PJSIP/${ext.number}/sip:${ext.number}@${ext.contact}`;
}
var SIP_HEADERS = "Ttrb(func-apply-sipheaders^s^1)";
function newRoot(ids, endpoint, at) {
  const channel = ids.pjsipChannel(endpoint, at);
  return { channel, sequence: ids.nextSequence() };
}
function cut(text) {
  return text.length > COLUMN_WIDTH ? text.slice(0, COLUMN_WIDTH) : text;
}

// src/cdr/generator/routes.ts
function queueAttempts(queue, ringFrom, entered, limit = 6) {
  const maxWaitAt = queue.maxWaitSeconds === null ? Infinity : entered + queue.maxWaitSeconds;
  const attempts = [];
  let start = ringFrom;
  for (let i = 0; i < limit && start < maxWaitAt; i++) {
    const members = queue.strategy === "ringall" ? queue.members : [queue.members[i % queue.members.length]];
    attempts.push({ start, members });
    start += queue.memberTimeoutSeconds + queue.retrySeconds;
  }
  return attempts;
}
function ringQueue(ctx, queue, entered, ringFrom, outcome) {
  const { call, ids, model } = ctx;
  const queueData = [queue.number, "tC", "", "", queue.maxWaitSeconds ?? "", "", "", "", "", ""].join(",");
  const queueRow = (partyB, sequence, start, end, disposition) => call.add({
    partyA: call.root,
    partyB,
    sequence,
    lastapp: "Queue",
    lastdata: queueData,
    dst: queue.number,
    dcontext: "ext-queues",
    start,
    end,
    answeredAt: entered,
    disposition
  });
  if (outcome.kind === "hangup_before_ring") {
    queueRow("", call.rootSequence, entered, outcome.at, "ANSWERED");
    return { end: outcome.at, rang: [] };
  }
  const maxWaitAt = queue.maxWaitSeconds === null ? Infinity : entered + queue.maxWaitSeconds;
  const rang = [];
  let firstQueueRow = true;
  const attempts = queueAttempts(queue, ringFrom, entered);
  for (let i = 0; i < attempts.length; i++) {
    const attempt = attempts[i];
    let ringEnd = Math.min(attempt.start + queue.memberTimeoutSeconds, maxWaitAt);
    let answerAt = null;
    if (outcome.kind === "answer" && outcome.attempt === i) {
      answerAt = attempt.start + outcome.ringSeconds;
      ringEnd = answerAt;
    }
    if (outcome.kind === "hangup" && outcome.attempt === i) ringEnd = Math.min(ringEnd, attempt.start + outcome.secondsIntoAttempt);
    for (const member of attempt.members) {
      if (!rang.includes(member)) rang.push(member);
      const ext = findExtension(model, member);
      const local = ids.localChannel(member, "from-queue", attempt.start);
      ids.nextSequence();
      const dialSequence = ids.nextSequence();
      const queueSequence = firstQueueRow ? call.rootSequence : ids.nextSequence();
      const phone = ids.pjsipChannel(member, attempt.start);
      const answered = answerAt !== null && outcome.kind === "answer" && member === outcome.member;
      const legEnd = answered ? answerAt + outcome.talkSeconds : ringEnd;
      const disposition = answered ? "ANSWERED" : "NO ANSWER";
      call.add({
        partyA: local.two,
        partyB: phone.name,
        sequence: dialSequence,
        lastapp: "Dial",
        lastdata: `${deviceDial(ext)},${queue.memberTimeoutSeconds},${SIP_HEADERS}`,
        dst: member,
        dcontext: "from-internal",
        start: attempt.start,
        end: legEnd,
        answeredAt: answered ? answerAt : null,
        disposition,
        arrival: legEnd,
        did: false
      });
      queueRow(local.one.name, queueSequence, firstQueueRow ? entered : attempt.start, legEnd, disposition);
      firstQueueRow = false;
    }
    if (outcome.kind === "answer" && answerAt !== null) {
      return { end: answerAt + outcome.talkSeconds, rang, answeredBy: outcome.member };
    }
    if (outcome.kind === "hangup" && outcome.attempt === i) return { end: ringEnd, rang };
  }
  if (outcome.kind !== "timeout" || maxWaitAt === Infinity) {
    throw new Error(`queue ${queue.number}: outcome ${outcome.kind} does not fit its ${attempts.length} ring attempts`);
  }
  return failover(ctx, queue.failover, maxWaitAt, entered, outcome.voicemailSeconds, rang);
}
function ringGroup(ctx, group, from, firstRowStart, answeredBefore, outcome) {
  const { call, ids, model } = ctx;
  const exts = group.members.map((m) => findExtension(model, m));
  const hangupAt = outcome.kind === "hangup" ? from + outcome.afterSeconds : Infinity;
  const rang = [];
  let first = true;
  const row = (ext, start2, end, lastdata, answeredAt, disposition) => {
    call.add({
      partyA: call.root,
      partyB: ids.pjsipChannel(ext.number, start2).name,
      sequence: first ? call.rootSequence : ids.nextSequence(),
      lastapp: "Dial",
      lastdata,
      dst: group.number,
      dcontext: "ext-group",
      start: first ? firstRowStart : start2,
      end,
      answeredAt: answeredAt ?? answeredBefore,
      disposition
    });
    first = false;
  };
  if (group.strategy === "ringall") {
    const lastdata = `${exts.map(deviceDial).join("&")},${group.ringSeconds},${SIP_HEADERS}`;
    const answerAt = outcome.kind === "answer" ? from + outcome.ringSeconds : null;
    const ringEnd = Math.min(answerAt ?? from + group.ringSeconds, hangupAt);
    for (const ext of exts) {
      rang.push(ext.number);
      const answered = outcome.kind === "answer" && ext.number === outcome.member;
      if (answered) row(ext, from, answerAt + outcome.talkSeconds, lastdata, answerAt, "ANSWERED");
      else row(ext, from, ringEnd, lastdata, null, "NO ANSWER");
    }
    if (outcome.kind === "answer") return { end: answerAt + outcome.talkSeconds, rang, answeredBy: outcome.member };
    if (outcome.kind === "hangup") return { end: ringEnd, rang };
    return failover(ctx, group.failover, from + group.ringSeconds, answeredBefore, outcome.voicemailSeconds, rang);
  }
  let start = from;
  for (const ext of exts) {
    if (start >= hangupAt) break;
    rang.push(ext.number);
    const lastdata = `${deviceDial(ext)},${group.ringSeconds},${SIP_HEADERS}`;
    if (outcome.kind === "answer" && ext.number === outcome.member) {
      const answerAt = start + outcome.ringSeconds;
      row(ext, start, answerAt + outcome.talkSeconds, lastdata, answerAt, "ANSWERED");
      return { end: answerAt + outcome.talkSeconds, rang, answeredBy: ext.number };
    }
    const end = Math.min(start + group.ringSeconds, hangupAt);
    row(ext, start, end, lastdata, null, "NO ANSWER");
    if (end === hangupAt) return { end, rang };
    start = end;
  }
  if (outcome.kind !== "timeout") throw new Error(`ring group ${group.number}: outcome ${outcome.kind} does not fit its members`);
  return failover(ctx, group.failover, start, answeredBefore, outcome.voicemailSeconds, rang);
}
function failover(ctx, to, at, answeredBefore, voicemailSeconds2, rang) {
  if (to.kind === "hangup") return { end: at, rang };
  voicemailRow(ctx, to.extension, at, voicemailSeconds2, { dst: `vmu${to.extension}`, dcontext: "ext-local", answeredAt: answeredBefore ?? at });
  return { end: at + voicemailSeconds2, rang, voicemail: to.extension };
}
function voicemailRow(ctx, box, at, seconds, where) {
  ctx.call.add({
    partyA: where.partyA ?? ctx.call.root,
    sequence: ctx.ids.nextSequence(),
    lastapp: "VoiceMail",
    lastdata: `${box}@default,${where.greeting ?? "u"}`,
    dst: where.dst,
    dcontext: where.dcontext,
    start: at,
    end: at + seconds,
    answeredAt: where.answeredAt,
    disposition: "ANSWERED"
  });
}
var EXTENSION_RING_SECONDS = 15;
function dialExtension(ctx, ext, from, where, outcome) {
  const { call, ids } = ctx;
  const phone = ids.pjsipChannel(ext.number, from);
  const lastdata = `${deviceDial(ext)},${ext.voicemail ? EXTENSION_RING_SECONDS : ""},${SIP_HEADERS}`;
  const dial = (end, answeredAt, disposition, sequence) => call.add({
    partyA: call.root,
    partyB: phone.name,
    sequence,
    lastapp: "Dial",
    lastdata,
    dst: where.dst,
    dcontext: where.dcontext,
    start: from,
    end,
    answeredAt: answeredAt ?? where.answeredBefore,
    disposition
  });
  const rootSequence = call.rows.length === 0 ? call.rootSequence : ids.nextSequence();
  const rang = [ext.number];
  switch (outcome.kind) {
    case "answer": {
      const answerAt = from + outcome.ringSeconds;
      dial(answerAt + outcome.talkSeconds, answerAt, "ANSWERED", rootSequence);
      return { end: answerAt + outcome.talkSeconds, rang, answeredBy: ext.number };
    }
    case "no_answer":
      dial(from + outcome.ringSeconds, null, "NO ANSWER", rootSequence);
      return { end: from + outcome.ringSeconds, rang };
    case "voicemail": {
      const at = from + EXTENSION_RING_SECONDS;
      dial(at, null, "NO ANSWER", rootSequence);
      voicemailRow(ctx, ext.number, at, outcome.voicemailSeconds, { dst: where.dst, dcontext: where.dcontext, answeredAt: where.answeredBefore ?? at });
      return { end: at + outcome.voicemailSeconds, rang, voicemail: ext.number };
    }
    case "busy": {
      dial(from, null, "BUSY", rootSequence);
      if (!ext.voicemail) return { end: from + outcome.voicemailSeconds, rang };
      voicemailRow(ctx, ext.number, from, outcome.voicemailSeconds, {
        dst: where.dst,
        dcontext: where.dcontext,
        answeredAt: where.answeredBefore ?? from,
        greeting: "b"
      });
      return { end: from + outcome.voicemailSeconds, rang, voicemail: ext.number };
    }
  }
}

// src/cdr/generator/scenarios.ts
var FOLLOW_ME_OPTIONS = "TtrIb(func-apply-sipheaders^s^1)";
var TRUNK_DIAL_OPTIONS = "300,Tb(func-apply-sipheaders^s^1)";
function chooseDid(input, accepts, what) {
  if (input.did !== void 0) {
    const did = input.model.dids.find((d) => d.number === input.did);
    if (!did || !accepts(did)) throw new Error(`DID ${input.did} does not lead to ${what}`);
    return did;
  }
  const candidates = input.model.dids.filter(accepts);
  if (candidates.length === 0) throw new Error(`no DID of the PBX model leads to ${what}`);
  return input.rng.pick(candidates);
}
function inbound(input, did) {
  const caller = input.caller ?? carrierCaller(formatNumber(randomMobile(input.rng), randomFormat(input.rng)));
  const root = newRoot(input.ids, input.model.trunk, input.start);
  const call = new CallRows(root.channel, root.sequence, inboundIdentity(caller), did.number);
  return { call, caller, did, ctx: { model: input.model, ids: input.ids, call } };
}
function finishInbound(scenario, input, inb, result, missed, abandoned = false) {
  const label = {
    linkedid: inb.call.linkedid,
    scenario,
    direction: "inbound",
    startedAt: naiveDatetime(input.start),
    missed,
    caller: inb.caller.number,
    did: inb.did.number,
    rang: result.rang
  };
  if (abandoned) label.abandoned = true;
  if (result.answeredBy) label.answeredBy = result.answeredBy;
  return { label, rows: inb.call.finish(result.end), extraLabels: [] };
}
function talkSeconds(input) {
  if (input.talkSeconds !== void 0) return input.talkSeconds;
  const rng = input.rng;
  const kind = rng.weighted({ short: 15, usual: 65, long: 20 });
  if (kind === "short") return rng.int(4, 20);
  return kind === "usual" ? rng.int(20, 240) : rng.int(240, 1200);
}
function voicemailSeconds(rng) {
  return rng.chance(0.5) ? rng.int(3, 12) : rng.int(15, 60);
}
function queueDid(input, extra = () => true) {
  return chooseDid(input, (d) => d.destination.kind === "queue" && extra(d), "a queue");
}
function queueOf(input, did) {
  if (did.destination.kind !== "queue") throw new Error(`DID ${did.number} is not routed to a queue`);
  return findQueue(input.model, did.destination.queue);
}
function attemptIndex(input, available) {
  if (input.attempt !== void 0) {
    if (input.attempt < 1 || input.attempt > available) throw new Error(`attempt ${input.attempt} is outside 1..${available}`);
    return input.attempt - 1;
  }
  const roll = input.rng.next();
  return Math.min(available - 1, roll < 0.75 ? 0 : roll < 0.93 ? 1 : 2);
}
function queueCall(scenario, input, did, entered, ringFrom, outcomeFor) {
  const queue = queueOf(input, did);
  const inb = inbound(input, did);
  const attempts = queueAttempts(queue, ringFrom, entered);
  const maxWaitAt = queue.maxWaitSeconds === null ? Infinity : entered + queue.maxWaitSeconds;
  const outcome = outcomeFor(attempts, maxWaitAt);
  const result = ringQueue(inb.ctx, queue, entered, ringFrom, outcome);
  return finishInbound(scenario, input, inb, result, !result.answeredBy);
}
function answerInQueue(input, attempts, maxWaitAt, timeout) {
  const i = attemptIndex(input, attempts.length);
  const attempt = attempts[i];
  const latest = Math.min(timeout - 1, maxWaitAt - attempt.start - 1);
  return {
    kind: "answer",
    attempt: i,
    member: input.rng.pick(attempt.members),
    ringSeconds: input.rng.int(Math.min(2, latest), latest),
    talkSeconds: talkSeconds(input)
  };
}
var queueAnswered = (input) => {
  const did = queueDid(input);
  const queue = queueOf(input, did);
  const ringFrom = input.start + input.rng.int(0, 1);
  return queueCall("queue_answered", input, did, input.start, ringFrom, (attempts, maxWaitAt) => answerInQueue(input, attempts, maxWaitAt, queue.memberTimeoutSeconds));
};
var queueMissed = (input) => {
  const did = queueDid(input);
  const queue = queueOf(input, did);
  const ringFrom = input.start + input.rng.int(0, 1);
  return queueCall("queue_missed", input, did, input.start, ringFrom, (attempts, maxWaitAt) => {
    const i = attemptIndex(input, attempts.length);
    const latest = Math.min(queue.memberTimeoutSeconds - 1, maxWaitAt - attempts[i].start - 1);
    return { kind: "hangup", attempt: i, secondsIntoAttempt: input.rng.int(Math.min(2, latest), latest) };
  });
};
var queueVoicemail = (input) => {
  const did = queueDid(input, (d) => {
    const q = queueOf(input, d);
    return q.maxWaitSeconds !== null && q.failover.kind === "voicemail";
  });
  return queueCall("queue_voicemail", input, did, input.start, input.start + input.rng.int(0, 1), () => ({
    kind: "timeout",
    voicemailSeconds: voicemailSeconds(input.rng)
  }));
};
var queueAbandonNoAgent = (input) => {
  const did = queueDid(input);
  const wait = input.rng.chance(0.7) ? input.rng.int(10, 150) : input.rng.int(2, 9);
  const inb = inbound(input, did);
  const result = ringQueue(inb.ctx, queueOf(input, did), input.start, input.start, { kind: "hangup_before_ring", at: input.start + wait });
  return finishInbound("queue_abandon_no_agent", input, inb, result, wait >= 10, wait < 10);
};
function groupDid(input) {
  return chooseDid(input, (d) => d.destination.kind === "ringgroup", "a ring group");
}
var ringGroupAnswered = (input) => {
  const did = groupDid(input);
  const group = findRingGroup(input.model, did.destination.group);
  const inb = inbound(input, did);
  const member = input.rng.pick(group.members);
  const result = ringGroup(inb.ctx, group, input.start, input.start, null, {
    kind: "answer",
    member,
    ringSeconds: input.rng.int(2, group.ringSeconds - 1),
    talkSeconds: talkSeconds(input)
  });
  return finishInbound("ringgroup_answered", input, inb, result, false);
};
var ringGroupMissed = (input) => {
  const did = groupDid(input);
  const group = findRingGroup(input.model, did.destination.group);
  const inb = inbound(input, did);
  const total = group.strategy === "ringall" ? group.ringSeconds : group.ringSeconds * group.members.length;
  const hangsUp = input.callerHangsUp ?? input.rng.chance(0.35);
  const result = ringGroup(inb.ctx, group, input.start, input.start, null, hangsUp ? { kind: "hangup", afterSeconds: input.rng.int(3, total - 1) } : { kind: "timeout", voicemailSeconds: voicemailSeconds(input.rng) });
  return finishInbound("ringgroup_missed", input, inb, result, true);
};
function directDid(input, extra = () => true) {
  return chooseDid(input, (d) => {
    if (d.destination.kind !== "extension") return false;
    const ext = findExtension(input.model, d.destination.extension);
    return !ext.followMe && extra(ext);
  }, "an extension without follow-me");
}
function directCall(scenario, input, did, outcome) {
  const ext = findExtension(input.model, did.destination.extension);
  const inb = inbound(input, did);
  const result = dialExtension(inb.ctx, ext, input.start, { dst: ext.number, dcontext: "from-did-direct", answeredBefore: null }, outcome);
  return finishInbound(scenario, input, inb, result, !result.answeredBy);
}
var directAnswered = (input) => directCall("direct_answered", input, directDid(input), { kind: "answer", ringSeconds: input.rng.int(2, 12), talkSeconds: talkSeconds(input) });
var directVoicemail = (input) => directCall("direct_voicemail", input, directDid(input, (e) => e.voicemail), { kind: "voicemail", voicemailSeconds: voicemailSeconds(input.rng) });
var directMissed = (input) => directCall("direct_missed", input, directDid(input), { kind: "no_answer", ringSeconds: input.rng.int(3, 14) });
var directBusy = (input) => directCall("direct_busy", input, directDid(input), { kind: "busy", voicemailSeconds: input.rng.int(2, 30) });
var voicemailDirect = (input) => {
  const did = chooseDid(input, (d) => d.afterHours?.kind === "voicemail" || d.destination.kind === "voicemail", "a voicemail box");
  const box = d2box(did);
  const inb = inbound(input, did);
  const seconds = voicemailSeconds(input.rng);
  voicemailRow(inb.ctx, box, input.start, seconds, { dst: `vmu${box}`, dcontext: "ext-local", answeredAt: input.start });
  return finishInbound("voicemail_direct", input, inb, { end: input.start + seconds, rang: [], voicemail: box }, true);
};
function d2box(did) {
  if (did.destination.kind === "voicemail") return did.destination.extension;
  if (did.afterHours?.kind === "voicemail") return did.afterHours.extension;
  throw new Error(`DID ${did.number} has no voicemail destination`);
}
function ivrDid(input) {
  const did = chooseDid(input, (d) => d.destination.kind === "ivr", "an IVR");
  const ivr = input.model.ivrs.find((i) => i.id === did.destination.ivr);
  if (!ivr) throw new Error(`DID ${did.number} leads to an IVR the model lacks`);
  return { did, ivr };
}
var ivrAbandon = (input) => {
  const { did, ivr } = ivrDid(input);
  const inb = inbound(input, did);
  const end = input.start + input.rng.int(2, ivr.timeoutSeconds - 1);
  inb.call.add({
    partyA: inb.call.root,
    sequence: inb.call.rootSequence,
    lastapp: "WaitExten",
    lastdata: `${ivr.timeoutSeconds},`,
    dst: "s",
    dcontext: `ivr-${ivr.id}`,
    start: input.start,
    end,
    answeredAt: input.start,
    disposition: "ANSWERED",
    identity: { cnum: "", cnam: "" }
  });
  return finishInbound("ivr_abandon", input, inb, { end, rang: [] }, false, true);
};
function ivrToQueue(scenario, input) {
  const { did, ivr } = ivrDid(input);
  const digits = Object.keys(ivr.options).filter((digit2) => ivr.options[digit2].kind === "queue");
  if (digits.length === 0) throw new Error(`IVR ${ivr.id} offers no queue`);
  const digit = input.ivrOption ?? input.rng.pick(digits);
  const choice = ivr.options[digit];
  if (!choice || choice.kind !== "queue") throw new Error(`IVR ${ivr.id} option ${digit} is not a queue`);
  const queue = findQueue(input.model, choice.queue);
  const routed = { ...did, destination: choice };
  const ringFrom = input.start + input.rng.int(2, 8);
  return queueCall(scenario, input, routed, input.start, ringFrom, (attempts, maxWaitAt) => {
    if (scenario === "ivr_queue_answered") return answerInQueue(input, attempts, maxWaitAt, queue.memberTimeoutSeconds);
    const i = attemptIndex(input, attempts.length);
    const latest = Math.min(queue.memberTimeoutSeconds - 1, maxWaitAt - attempts[i].start - 1);
    return { kind: "hangup", attempt: i, secondsIntoAttempt: input.rng.int(Math.min(2, latest), latest) };
  });
}
function followMe(scenario, input) {
  const did = chooseDid(input, (d) => d.destination.kind === "extension" && !!findExtension(input.model, d.destination.extension).followMe, "a follow-me extension");
  const ext = findExtension(input.model, did.destination.extension);
  const fm = ext.followMe;
  const { model, ids, rng, start } = input;
  const inb = inbound(input, did);
  const { call } = inb;
  const dst = `FM${ext.number}`;
  call.add({
    partyA: call.root,
    partyB: ids.pjsipChannel(ext.number, start).name,
    sequence: call.rootSequence,
    lastapp: "Dial",
    lastdata: `${deviceDial(ext)},${fm.ringAloneSeconds},${FOLLOW_ME_OPTIONS}`,
    dst,
    dcontext: "from-did-direct",
    start,
    end: start + fm.ringAloneSeconds,
    answeredAt: null,
    disposition: "NO ANSWER"
  });
  const together = start + fm.ringAloneSeconds;
  const togetherData = `${deviceDial(ext)}&Local/${fm.mobile}@from-internal/n,${fm.ringTogetherSeconds},${FOLLOW_ME_OPTIONS}`;
  const answered = scenario === "followme_external";
  const answerAt = answered ? together + rng.int(3, fm.ringTogetherSeconds - 2) : null;
  const legEnd = answerAt !== null ? answerAt + talkSeconds(input) : together + fm.ringTogetherSeconds;
  const disposition = answered ? "ANSWERED" : "NO ANSWER";
  call.add({
    partyA: call.root,
    partyB: ids.pjsipChannel(ext.number, together).name,
    sequence: ids.nextSequence(),
    lastapp: "Dial",
    lastdata: togetherData,
    dst,
    dcontext: "from-did-direct",
    start: together,
    end: answerAt ?? legEnd,
    answeredAt: null,
    disposition: "NO ANSWER"
  });
  const local = ids.localChannel(fm.mobile, "from-internal", together);
  ids.nextSequence();
  call.add({
    partyA: local.two,
    partyB: ids.pjsipChannel(model.trunk, together).name,
    sequence: ids.nextSequence(),
    lastapp: "Dial",
    lastdata: `PJSIP/${fm.mobile}@${model.trunk},${TRUNK_DIAL_OPTIONS}`,
    dst: fm.mobile,
    dcontext: "from-internal",
    start: together,
    end: legEnd,
    answeredAt: answerAt,
    disposition,
    arrival: legEnd,
    did: false,
    outbound: { cnum: inb.caller.number, cnam: inb.caller.name }
  });
  call.add({
    partyA: call.root,
    partyB: local.one.name,
    sequence: ids.nextSequence(),
    lastapp: "Dial",
    lastdata: togetherData,
    dst,
    dcontext: "from-did-direct",
    start: together,
    end: legEnd,
    answeredAt: answerAt,
    disposition
  });
  if (answered) {
    return finishInbound(scenario, input, inb, { end: legEnd, rang: [ext.number], answeredBy: `external:${fm.mobile}` }, false);
  }
  const seconds = voicemailSeconds(rng);
  voicemailRow(inb.ctx, ext.number, legEnd, seconds, { dst: `vmu${ext.number}`, dcontext: "ext-local", answeredAt: legEnd });
  return finishInbound(scenario, input, inb, { end: legEnd + seconds, rang: [ext.number], voicemail: ext.number }, true);
}
function transferTarget(input, not) {
  const candidates = input.model.extensions.filter((e) => e.number !== not && e.voicemail && !e.followMe);
  return input.rng.pick(candidates);
}
var blindTransfer = (input) => {
  const did = directDid(input, (e) => e.voicemail);
  const first = findExtension(input.model, did.destination.extension);
  const target = transferTarget(input, first.number);
  const { ids, rng, start } = input;
  const inb = inbound(input, did);
  const { call } = inb;
  const answerAt = start + rng.int(2, 10);
  const transferAt = answerAt + talkSeconds(input);
  call.add({
    partyA: call.root,
    partyB: ids.pjsipChannel(first.number, start).name,
    sequence: call.rootSequence,
    lastapp: "Dial",
    lastdata: `${deviceDial(first)},15,Ttrb(func-apply-sipheaders^s^1)`,
    dst: first.number,
    dcontext: "from-did-direct",
    start,
    end: transferAt,
    answeredAt: answerAt,
    disposition: "ANSWERED"
  });
  const targetAnswers = input.answered ?? rng.chance(0.6);
  const ringEnd = targetAnswers ? transferAt + rng.int(2, 12) : transferAt + 15;
  const end = targetAnswers ? ringEnd + rng.int(10, 300) : ringEnd;
  call.add({
    partyA: call.root,
    partyB: ids.pjsipChannel(target.number, transferAt).name,
    sequence: ids.nextSequence(),
    lastapp: "Dial",
    lastdata: `${deviceDial(target)},15,Ttrb(func-apply-sipheaders^s^1)`,
    dst: first.number,
    dcontext: "from-did-direct",
    start: transferAt,
    end,
    answeredAt: answerAt,
    disposition: targetAnswers ? "ANSWERED" : "NO ANSWER"
  });
  let callEnd = end;
  if (!targetAnswers) {
    const seconds = voicemailSeconds(rng);
    voicemailRow(inb.ctx, target.number, end, seconds, { dst: first.number, dcontext: "from-did-direct", answeredAt: answerAt });
    callEnd = end + seconds;
  }
  return finishInbound("blind_transfer", input, inb, { end: callEnd, rang: [first.number, target.number], answeredBy: first.number }, false);
};
var attendedTransfer = (input) => {
  const did = directDid(input, (e) => e.voicemail);
  const first = findExtension(input.model, did.destination.extension);
  const target = transferTarget(input, first.number);
  const { ids, rng, start } = input;
  const inb = inbound(input, did);
  const { call } = inb;
  const answerAt = start + rng.int(2, 10);
  const consultAt = answerAt + rng.int(10, 120);
  const consultAnswerAt = consultAt + rng.int(2, 10);
  const transferAt = consultAnswerAt + rng.int(5, 40);
  const end = transferAt + talkSeconds(input);
  const firstPhone = ids.pjsipChannel(first.number, start);
  call.add({
    partyA: call.root,
    partyB: firstPhone.name,
    sequence: call.rootSequence,
    lastapp: "Dial",
    lastdata: `${deviceDial(first)},15,Ttrb(func-apply-sipheaders^s^1)`,
    dst: first.number,
    dcontext: "from-did-direct",
    start,
    end: transferAt,
    answeredAt: answerAt,
    disposition: "ANSWERED"
  });
  const consultRoot = newRoot(ids, first.number, consultAt);
  const targetPhone = ids.pjsipChannel(target.number, consultAt);
  call.add({
    partyA: consultRoot.channel,
    partyB: targetPhone.name,
    sequence: consultRoot.sequence,
    lastapp: "Dial",
    lastdata: `${deviceDial(target)},15,Ttrb(func-apply-sipheaders^s^1)`,
    dst: target.number,
    dcontext: "from-internal",
    start: consultAt,
    end: transferAt,
    answeredAt: consultAnswerAt,
    disposition: "ANSWERED",
    arrival: transferAt,
    identity: extensionIdentity(first),
    did: false,
    linkedid: consultRoot.channel.uniqueid
  });
  call.add({
    partyA: call.root,
    partyB: targetPhone.name,
    sequence: ids.nextSequence(),
    lastapp: "Dial",
    lastdata: `${deviceDial(first)},15,Ttrb(func-apply-sipheaders^s^1)`,
    dst: first.number,
    dcontext: "from-did-direct",
    start: transferAt,
    end,
    answeredAt: transferAt,
    disposition: "ANSWERED"
  });
  const result = finishInbound("attended_transfer", input, inb, { end, rang: [first.number, target.number], answeredBy: first.number }, false);
  result.extraLabels.push({
    linkedid: consultRoot.channel.uniqueid,
    scenario: "internal",
    direction: "internal",
    startedAt: naiveDatetime(consultAt),
    missed: false,
    caller: first.number,
    did: "",
    rang: [target.number],
    answeredBy: target.number
  });
  return result;
};
function extensionFor(input, number, not) {
  if (number !== void 0) return findExtension(input.model, number);
  return input.rng.pick(input.model.extensions.filter((e) => e.number !== not && !e.followMe));
}
var internal = (input) => {
  const { ids, rng, start, model } = input;
  const from = extensionFor(input, input.extension);
  const to = extensionFor(input, input.target, from.number);
  const root = newRoot(ids, from.number, start);
  const call = new CallRows(root.channel, root.sequence, extensionIdentity(from), "");
  const answers2 = input.answered ?? rng.chance(0.7);
  const hangsUp = !to.voicemail || (input.callerHangsUp ?? rng.chance(0.4));
  const outcome = answers2 ? { kind: "answer", ringSeconds: rng.int(2, 10), talkSeconds: talkSeconds(input) } : hangsUp ? { kind: "no_answer", ringSeconds: rng.int(3, 14) } : { kind: "voicemail", voicemailSeconds: voicemailSeconds(rng) };
  const result = dialExtension({ model, ids, call }, to, start, { dst: to.number, dcontext: "from-internal", answeredBefore: null }, outcome);
  const label = {
    linkedid: call.linkedid,
    scenario: "internal",
    direction: "internal",
    startedAt: naiveDatetime(start),
    missed: false,
    caller: from.number,
    did: "",
    rang: result.rang
  };
  if (result.answeredBy) label.answeredBy = result.answeredBy;
  return { label, rows: call.finish(result.end), extraLabels: [] };
};
function outboundCall(scenario, input, dialled, answers2, busy) {
  const { ids, rng, start, model } = input;
  const ext = extensionFor(input, input.extension);
  const root = newRoot(ids, ext.number, start);
  const identity = { clid: `"" <${model.outboundCid}>`, src: model.outboundCid, cnum: ext.number, cnam: ext.name };
  const call = new CallRows(root.channel, root.sequence, identity, "");
  const sent = numberSentToTrunk(dialled, model.outboundPrefix);
  const answerAt = answers2 ? start + rng.int(3, 20) : null;
  const end = answerAt !== null ? answerAt + talkSeconds(input) : busy ? start + rng.int(1, 4) : start + rng.int(15, 45);
  call.add({
    partyA: root.channel,
    partyB: ids.pjsipChannel(model.trunk, start).name,
    sequence: root.sequence,
    lastapp: "Dial",
    lastdata: `PJSIP/${sent}@${model.trunk},${TRUNK_DIAL_OPTIONS}`,
    dst: dialled,
    dcontext: "from-internal",
    start,
    end,
    answeredAt: answerAt,
    disposition: answers2 ? "ANSWERED" : busy ? "BUSY" : "NO ANSWER",
    did: false,
    outbound: { cnum: model.outboundCid, cnam: "" }
  });
  const label = {
    linkedid: call.linkedid,
    scenario,
    direction: "outbound",
    startedAt: naiveDatetime(start),
    missed: false,
    caller: ext.number,
    did: "",
    dialled,
    rang: []
  };
  if (answers2) label.answeredBy = `external:${sent}`;
  return { call: { label, rows: call.finish(end), extraLabels: [] }, label };
}
var outbound = (input) => {
  const rng = input.rng;
  const number = input.target ?? (rng.chance(0.6) ? randomMobile(rng) : randomLandline(rng));
  const dialled = rng.chance(0.5) ? `${input.model.outboundPrefix}${number}` : number;
  const answers2 = input.answered ?? rng.chance(0.7);
  return outboundCall("outbound", input, dialled, answers2, !answers2 && rng.chance(0.15)).call;
};
var callback = (input) => {
  const rng = input.rng;
  const presented = input.target ?? formatNumber(randomMobile(rng), randomFormat(rng));
  const answers2 = input.answered ?? rng.chance(0.7);
  const { call, label } = outboundCall("callback", input, dialledForCallback(presented, input.model.outboundPrefix, rng), answers2, false);
  label.callbackFor = presented;
  label.callbackAnswered = answers2;
  return call;
};
var SCENARIOS = {
  queue_answered: queueAnswered,
  queue_missed: queueMissed,
  queue_voicemail: queueVoicemail,
  queue_abandon_no_agent: queueAbandonNoAgent,
  ringgroup_answered: ringGroupAnswered,
  ringgroup_missed: ringGroupMissed,
  direct_answered: directAnswered,
  direct_voicemail: directVoicemail,
  direct_missed: directMissed,
  direct_busy: directBusy,
  voicemail_direct: voicemailDirect,
  ivr_abandon: ivrAbandon,
  ivr_queue_answered: (input) => ivrToQueue("ivr_queue_answered", input),
  ivr_queue_missed: (input) => ivrToQueue("ivr_queue_missed", input),
  followme_external: (input) => followMe("followme_external", input),
  followme_missed: (input) => followMe("followme_missed", input),
  blind_transfer: blindTransfer,
  attended_transfer: attendedTransfer,
  internal,
  outbound,
  callback
};
var SCENARIO_NAMES = Object.keys(SCENARIOS);

// src/cdr/generator/traffic.ts
var BUSINESS_INBOUND = {
  queue_answered: 30,
  queue_missed: 3,
  queue_voicemail: 1.2,
  queue_abandon_no_agent: 1.2,
  ringgroup_answered: 8,
  ringgroup_missed: 1.2,
  direct_answered: 10,
  direct_voicemail: 1.2,
  direct_missed: 0.8,
  direct_busy: 0.4,
  ivr_abandon: 3,
  ivr_queue_answered: 10,
  ivr_queue_missed: 1,
  followme_external: 2,
  followme_missed: 0.5,
  blind_transfer: 3,
  attended_transfer: 1.5
};
var AFTER_HOURS_INBOUND = {
  voicemail_direct: 55,
  ivr_abandon: 20,
  direct_voicemail: 10,
  direct_missed: 5,
  direct_answered: 4,
  followme_external: 6
};
var TrafficMix = class {
  constructor(model, rng, options = {}) {
    this.model = model;
    this.rng = rng;
    this.options = options;
    for (let i = 0; i < (options.regularCallers ?? 300); i++) {
      const national = rng.chance(0.8) ? randomMobile(rng) : randomLandline(rng);
      this.regulars.push(carrierCaller(formatNumber(national, randomFormat(rng))));
    }
    this.followUpDelay = options.followUpDelay ?? ((r) => r.chance(0.7) ? r.int(120, 3600) : r.int(3600, 4 * 3600));
  }
  model;
  rng;
  options;
  regulars = [];
  followUpDelay;
  open(at) {
    return this.options.alwaysOpen === true || isBusinessTime(this.model, at);
  }
  /** A first attempt starting at `at`. */
  fresh(at) {
    const rng = this.rng;
    const open = this.open(at);
    const kind = rng.weighted(open ? { inbound: 72, outbound: 18, internal: 10 } : { inbound: 88, outbound: 8, internal: 4 });
    if (kind === "internal") return { at, scenario: "internal", input: {} };
    if (kind === "outbound") {
      const target = rng.chance(0.15) ? rng.pick(this.regulars).number.replace(/^(\+40|0040)/, "0") : void 0;
      return { at, scenario: "outbound", input: target ? { target } : {} };
    }
    const scenario = rng.weighted(open ? BUSINESS_INBOUND : AFTER_HOURS_INBOUND);
    const roll = rng.next();
    const caller = roll < 0.03 ? ANONYMOUS : roll < 0.3 ? rng.pick(this.regulars) : void 0;
    return { at, scenario, input: caller ? { caller } : {} };
  }
  /** What a finished call leads to: the team calls a missed caller back, the caller tries again. */
  followUps(call) {
    const { label } = call;
    if (label.direction !== "inbound" || !label.missed || label.caller === ANONYMOUS.number) return [];
    const rng = this.rng;
    const end = call.rows.reduce((max, r) => Math.max(max, r.arrival), 0);
    const did = this.model.dids.find((d) => d.number === label.did);
    const plans = [];
    if (rng.chance(0.45)) {
      const at = end + this.followUpDelay(rng);
      if (this.open(at)) {
        const extension = label.rang[0] ?? rng.pick(this.model.extensions.filter((e) => !e.followMe)).number;
        plans.push({ at, scenario: "callback", input: { extension, target: label.caller } });
      }
    }
    if (!did) return plans;
    const caller = carrierCaller(label.caller);
    if (rng.chance(0.05)) {
      let at = end;
      for (let i = rng.int(2, 5); i > 0; i--) {
        at += rng.int(30, 600);
        plans.push({ at, scenario: this.scenarioFor(did, false, at), input: { did: did.number, caller }, repeatOf: label.linkedid });
      }
    } else if (rng.chance(0.3)) {
      const at = end + this.followUpDelay(rng);
      plans.push({ at, scenario: this.scenarioFor(did, rng.chance(0.75), at), input: { did: did.number, caller }, repeatOf: label.linkedid });
    }
    return plans;
  }
  /** The scenario a call to this DID becomes, given whether someone answers. */
  scenarioFor(did, answered, at) {
    if (!this.open(at) && did.afterHours) return "voicemail_direct";
    const to = did.destination;
    switch (to.kind) {
      case "queue":
        return answered ? "queue_answered" : "queue_missed";
      case "ringgroup":
        return answered ? "ringgroup_answered" : "ringgroup_missed";
      case "ivr":
        return answered ? "ivr_queue_answered" : "ivr_queue_missed";
      case "voicemail":
        return "voicemail_direct";
      case "extension": {
        const ext = findExtension(this.model, to.extension);
        if (ext.followMe) return answered ? "followme_external" : "followme_missed";
        return answered ? "direct_answered" : ext.voicemail ? "direct_voicemail" : "direct_missed";
      }
    }
  }
};
function materialise(model, plan, rng, ids) {
  const call = SCENARIOS[plan.scenario]({ model, rng, ids, start: plan.at, ...plan.input });
  if (plan.repeatOf) call.label.repeatOf = plan.repeatOf;
  return call;
}
function generateRange(model, options) {
  const first = dayStart(options.from);
  const last = dayStart(options.to);
  if (last < first) throw new Error(`range ${options.from}..${options.to} is empty`);
  const counts = new Rng(options.seed ^ 1540483477);
  function* days() {
    for (let day = first; day <= last; day += DAY) yield { day, calls: callsOnDay(options.callsPerDay, day, counts) };
  }
  return traffic(model, options.seed, options.counters, days(), last + DAY);
}
function* traffic(model, seed, counters, days, until) {
  const root = new Rng(seed);
  const timing = root.fork();
  const mix = new TrafficMix(model, root.fork());
  const calls = root.fork();
  const ids = new AsteriskCounters(counters);
  const pending = new PlanQueue();
  for (const { day, calls: count } of days) {
    const starts = [];
    for (let i = 0; i < count; i++) starts.push(randomTimeOfDay(day, timing));
    starts.sort((a, b) => a - b);
    let next = 0;
    const dayEnd = day + DAY;
    for (; ; ) {
      const followUp = pending.peek();
      const freshAt = next < starts.length ? starts[next] : Infinity;
      const followUpAt = followUp && followUp.at < dayEnd ? followUp.at : Infinity;
      if (freshAt === Infinity && followUpAt === Infinity) break;
      const plan = followUpAt <= freshAt ? pending.pop() : mix.fresh(starts[next++]);
      const call = materialise(model, plan, calls, ids);
      for (const later of mix.followUps(call)) if (later.at < until) pending.push(later);
      yield call;
    }
  }
}
var PlanQueue = class {
  heap = [];
  push(plan) {
    const heap = this.heap;
    heap.push(plan);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = i - 1 >> 1;
      if (heap[parent].at <= heap[i].at) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  }
  peek() {
    return this.heap[0];
  }
  pop() {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < heap.length && heap[l].at < heap[min].at) min = l;
        if (r < heap.length && heap[r].at < heap[min].at) min = r;
        if (min === i) break;
        [heap[min], heap[i]] = [heap[i], heap[min]];
        i = min;
      }
    }
    return top;
  }
};

// src/db/pool.ts
import mysql2 from "mysql2/promise";

// src/cdr/generator/insert.ts
var INSERT_COLUMNS = [...CDR_COLUMNS, "outbound_cnam", "amaflags"];
var AMAFLAGS_DOCUMENTATION = 3;
function rowValues(row) {
  return INSERT_COLUMNS.map((column) => column === "amaflags" ? AMAFLAGS_DOCUMENTATION : row[column]);
}

// ../../tmp/load.ts
var db = await startMariadb({ dir: "/tmp/smc-vol-db" });
try {
  await loadSchemas(db.socket, { cdrDb: "vol_cdr", pbxDb: "vol_pbx" }).catch(() => {
  });
  const pool = mysql3.createPool({ socketPath: db.socket, user: "root", connectionLimit: 6, dateStrings: true });
  await pool.query("TRUNCATE vol_cdr.cdr");
  const esc = (v) => String(v).replace(/[\\\t\n]/g, (c) => c === "	" ? "\\t" : c === "\n" ? "\\n" : "\\\\");
  const t0 = performance.now();
  let rows = 0;
  let batch = [];
  const inflight = /* @__PURE__ */ new Set();
  const flush = async () => {
    const text = batch.join("");
    batch = [];
    const p = pool.query({ sql: `LOAD DATA LOCAL INFILE 'gen.tsv' INTO TABLE vol_cdr.cdr (${INSERT_COLUMNS.join(",")})`, infileStreamFactory: () => Readable.from([Buffer.from(text)]) });
    const tr = p.finally(() => inflight.delete(tr));
    inflight.add(tr);
    if (inflight.size >= 4) await Promise.race(inflight);
  };
  for (const call of generateRange(demoPbx(), { seed: 7, from: "2025-01-01", to: "2026-12-31", callsPerDay: 1500 })) {
    for (const r2 of call.rows) batch.push(rowValues(r2).map(esc).join("	") + "\n");
    rows += call.rows.length;
    if (batch.length >= 2e4) await flush();
    if (rows >= 1e6) break;
  }
  await flush();
  await Promise.all(inflight);
  const s = (performance.now() - t0) / 1e3;
  console.log(rows, s, rows / s);
  const [r] = await pool.query("SELECT COUNT(*) n FROM vol_cdr.cdr");
  console.log(r);
  await pool.end();
} finally {
  await db.stop();
}
