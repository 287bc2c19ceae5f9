/**
 * The exit judge and the decoders it renders with (also what `hvspec explain` prints).
 * @module
 */

export {
  describeArm64Reason,
  describeEsr,
  describeExitReason,
  describeInterruptionInfo,
  describeQualification,
  describeReturn,
  esrFields,
  exceptionClassName,
  isNamedExceptionClass,
  qualificationFields,
} from './describe.js';
export {
  type Arm64ExitExpectation,
  type Expected,
  type FieldId,
  type FieldMismatch,
  fieldName,
  formatMismatch,
  type JudgeContext,
  judgeArm64Exit,
  judgeField,
} from './exit.js';
