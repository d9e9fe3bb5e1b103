/**
 * Meter profiles: which registers of an upstream Modbus meter hold which quantity, how they are
 * encoded and in which unit. A profile is data: a YAML file of the user's (`profile=/path/file.yaml`)
 * or one of the built-in profiles, each citing the maker's document its registers come from. This is
 * the module the poller uses: load a profile, plan the block reads, decode the words read into values
 * in metergate's base units (V, A, W, var, VA, Hz, Wh, varh).
 */
import { readFileSync } from 'node:fs';
import { parseProfile } from './profile-file.ts';
import { type MeterProfile, ProfileError } from './profile-model.ts';
import { CARLO_GAVAZZI_EM24 } from './profiles/carlo-gavazzi-em24.ts';
import { EASTRON_SDM72D_M } from './profiles/eastron-sdm72d-m.ts';
import { EASTRON_SDM630 } from './profiles/eastron-sdm630.ts';
import { METERGATE } from './profiles/metergate.ts';

export {
  BYTE_ORDERS,
  type ByteOrder,
  type DecodeProblem,
  ENCODINGS,
  type Encoding,
  formatProfileProblem,
  type MeterProfile,
  ProfileError,
  type ProfilePoint,
  type ProfileProblem,
  QUANTITIES,
  type Quantity,
  type ReadBlock,
  type Readings,
  WORD_ORDERS,
  type WordOrder,
} from './profile-model.ts';
export { decodeReadings, type PlanOptions, planReads } from './register-reads.ts';

/**
 * The built-in profiles' text, by name. They are TypeScript modules holding YAML so that the bundle
 * (dist/device.mjs) carries them with no file beside it, and they pass the same parser as a user's file.
 */
const BUILT_IN_TEXT: Readonly<Record<string, string>> = {
  'eastron-sdm630': EASTRON_SDM630,
  'eastron-sdm72d-m': EASTRON_SDM72D_M,
  'carlo-gavazzi-em24': CARLO_GAVAZZI_EM24,
  metergate: METERGATE,
};

/** The names `loadProfile` accepts besides a file path. */
export const BUILT_IN_PROFILES: readonly string[] = Object.keys(BUILT_IN_TEXT);

const builtIn = new Map<string, MeterProfile>();

/**
 * A built-in profile by name, or a profile file (YAML) by path: anything with a `/` or ending in
 * `.yaml`/`.yml`. Throws ProfileError whose message names the file, line and field of each problem.
 */
export function loadProfile(nameOrPath: string): MeterProfile {
  const text = BUILT_IN_TEXT[nameOrPath];
  if (text !== undefined) {
    const cached = builtIn.get(nameOrPath);
    if (cached) return cached;
    const profile = parsedOrThrow(text, `${nameOrPath} (built-in profile)`);
    builtIn.set(nameOrPath, profile);
    return profile;
  }
  if (!/[/\\]|\.ya?ml$/i.test(nameOrPath)) {
    throw new ProfileError([
      {
        file: nameOrPath,
        line: null,
        field: '',
        message: `no built-in profile of that name (built in: ${BUILT_IN_PROFILES.join(', ')}); a profile file is given by its path, e.g. ./my-meter.yaml`,
      },
    ]);
  }
  let content: string;
  try {
    content = readFileSync(nameOrPath, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ProfileError([
      { file: nameOrPath, line: null, field: '', message: `cannot read the profile file (${reason})` },
    ]);
  }
  return parsedOrThrow(content, nameOrPath);
}

/** A profile from YAML text; `file` is how errors name it. Throws ProfileError. */
export function profileFromText(text: string, file: string): MeterProfile {
  return parsedOrThrow(text, file);
}

function parsedOrThrow(text: string, file: string): MeterProfile {
  const result = parseProfile(text, file);
  if (!result.ok) throw new ProfileError(result.problems);
  return result.profile;
}
