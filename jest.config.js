// Two projects: fast unit tests with fakes, and end-to-end tests against the local droplet.
const base = {
  preset: 'ts-jest/presets/default-esm',
  resolver: 'ts-jest-resolver',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] }
}

export default {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/__tests__/**/*.test.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/e2e/**/*.test.ts'] }
  ]
}
