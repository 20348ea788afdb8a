/**
 * Text that came from a player, a story file or a model, made safe to print on a
 * terminal: ANSI/VT escape sequences (CSI, OSC, DCS and the like) and other control
 * characters are removed, so typed or generated text cannot move the cursor, change
 * the title, clear the screen or hide output. Newlines and tabs stay. The ledger keeps
 * the text exactly as typed; only what the terminal client prints is cleaned.
 *
 * @example terminalSafe('hi\x1b[2J\x07') === 'hi'
 */
// ESC-introduced sequences: CSI (ESC [ … final), OSC/DCS/SOS/PM/APC strings (ESC ] … BEL or ESC \), and two-byte escapes.
const ESCAPE_SEQUENCE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|[\]PX^_][\s\S]*?(?:\x07|\x1b\\|$)|[ -/]*[0-~])?/g;
// C1 CSI (U+009B) sequences, then every remaining C0/C1 control except tab and newline.
const C1_SEQUENCE = /\u009b[0-?]*[ -/]*[@-~]/g;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function terminalSafe(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, '').replace(C1_SEQUENCE, '').replace(CONTROL, '');
}
