// thread_annotations.hpp: clang thread-safety annotations (capability attributes).
//
// With clang and -Wthread-safety (the STROP_WERROR build), these macros let the compiler check
// that shared state is only touched with its mutex held: GUARDED_BY on a member names the
// capability (a base/mutex.hpp Mutex) that protects it, REQUIRES / EXCLUDES on a function state
// what its callers must (or must not) hold, ACQUIRE / RELEASE mark functions that take or drop
// a capability. With any other compiler they expand to nothing. Modelled on leveldb's
// port/thread_annotations.h and clang's ThreadSafetyAnalysis documentation.
//
// libstdc++'s std::mutex carries no annotations, so annotated state must be guarded by
// strop::Mutex / strop::SharedMutex (base/mutex.hpp), not by std::mutex.
// Thread-safety and lifetime: macros only; no code, no state.
#pragma once

#if defined(__clang__)
#define STROP_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define STROP_THREAD_ANNOTATION_(x)  // no-op
#endif

// On a class: instances are capabilities (e.g. a mutex).
#define CAPABILITY(x) STROP_THREAD_ANNOTATION_(capability(x))
// On a class: RAII objects that hold a capability for their lifetime (e.g. MutexLock).
#define SCOPED_CAPABILITY STROP_THREAD_ANNOTATION_(scoped_lockable)

// On a data member: reading or writing it requires holding x (writes: exclusively).
#define GUARDED_BY(x) STROP_THREAD_ANNOTATION_(guarded_by(x))
// On a pointer member: the pointee (not the pointer) is protected by x.
#define PT_GUARDED_BY(x) STROP_THREAD_ANNOTATION_(pt_guarded_by(x))

// Lock ordering between capabilities.
#define ACQUIRED_BEFORE(...) STROP_THREAD_ANNOTATION_(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) STROP_THREAD_ANNOTATION_(acquired_after(__VA_ARGS__))

// On a function: the caller must hold the capabilities (exclusively / at least shared).
#define REQUIRES(...) STROP_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) STROP_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))

// On a function: it acquires / releases the capabilities (exclusively or shared).
#define ACQUIRE(...) STROP_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) STROP_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) STROP_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) STROP_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) STROP_THREAD_ANNOTATION_(release_generic_capability(__VA_ARGS__))

// On a function: it tries to acquire; the first argument is the return value meaning success.
#define TRY_ACQUIRE(...) STROP_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) STROP_THREAD_ANNOTATION_(try_acquire_shared_capability(__VA_ARGS__))

// On a function: the caller must NOT hold the capabilities (the function takes them itself).
#define EXCLUDES(...) STROP_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))

// On a function: asserts at run time that the capability is held; the analysis trusts it.
#define ASSERT_CAPABILITY(x) STROP_THREAD_ANNOTATION_(assert_capability(x))
#define ASSERT_SHARED_CAPABILITY(x) STROP_THREAD_ANNOTATION_(assert_shared_capability(x))

// On a function: it returns a reference to the capability x.
#define RETURN_CAPABILITY(x) STROP_THREAD_ANNOTATION_(lock_returned(x))

// On a function: turns the analysis off for its body. Every use needs a comment saying why.
#define NO_THREAD_SAFETY_ANALYSIS STROP_THREAD_ANNOTATION_(no_thread_safety_analysis)
