/** The fixed slot numbers of the 8-slot user table (DESIGN §2). */

export const SLOT_COUNT = 8;
/** Full rights; cannot be deleted or demoted. */
export const ADMIN_SLOT = 0;
/** The display's principal when nobody is logged in there. */
export const LOCALGUI_SLOT = 1;
/** The website's (and by default Modbus's) principal when nobody is logged in. */
export const ANONYMOUS_SLOT = 2;
/** Slots 3–7 hold up to five users or API keys. */
export const FIRST_DEFINABLE_SLOT = 3;

export function isSlotNumber(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) < SLOT_COUNT;
}
