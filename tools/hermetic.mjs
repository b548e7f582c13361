// What the project runs for itself (tests, bench, soak, demo, the FreePBX e2e) must behave the
// same on a developer's machine that has a real FreePBX (with /etc/freepbx.conf and our own
// /etc/asterisk/smartmissedcalls.yaml) as on CI: every smc process it starts inherits this
// environment, which points config discovery at nothing.
const NOWHERE = '/dev/null/absent';

export const HERMETIC_ENV = {
  SMC_CONFIG_SEARCH: '',
  SMC_FREEPBX_CONF: `${NOWHERE}/freepbx.conf`,
  SMC_AMPORTAL_CONF: `${NOWHERE}/amportal.conf`,
};

/** Makes this process and every child it starts from now on hermetic. */
export function makeHermetic() {
  Object.assign(process.env, HERMETIC_ENV);
}
