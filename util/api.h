/* api.h — CT_API, the mark of a function libctrain.so exports.
 *
 * The library is built with -fvisibility=hidden: a function is visible to
 * programs linking libctrain.so only when its declaration in a public header
 * (the ones include/ctrain.h reaches) starts with CT_API.  Static linking
 * (libctrain.a, the CLI, the tests) sees every function as before.
 * tests/check_exports.sh fails on an exported symbol without the ct_ prefix.
 */
#ifndef CT_API_H
#define CT_API_H

#if defined(__GNUC__) || defined(__clang__)
#define CT_API __attribute__((visibility("default")))
#else
#define CT_API
#endif

#endif
