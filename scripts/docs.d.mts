/** The README with its Inputs and Outputs tables made from action.yml's text. */
export declare function renderReadme(readme: string, actionYml: string): Promise<string>
