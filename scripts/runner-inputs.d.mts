export declare const ACTION_YML: string
export interface DeclaredInput {
  description?: string
  required?: boolean
  default?: string
}
/** What a runner evaluates `${{ … }}` defaults to; only the ones action.yml uses. */
export interface Expressions {
  'github.token': string
}
export declare function declaredInputs(): Record<string, DeclaredInput>
export declare function evaluateDefault(value: string | undefined, expressions: Expressions): string
export declare function inputVariable(name: string): string
export declare function runnerInputs(
  given: Record<string, string>,
  expressions: Expressions
): Record<string, string>
