// ESLint flat config: @eslint/js recommended + typescript-eslint recommended (not type-checked).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/**', 'node_modules/**', '.brokers/**', 'coverage/**'] },
  {
    files: ['src/**/*.{ts,js}', 'test/**/*.{ts,js}', 'bench/**/*.{ts,js}', 'examples/**/*.{ts,js}', '*.config.{ts,js}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    rules: {
      // `_`-prefixed names mark deliberately unused parameters and bindings.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
);
