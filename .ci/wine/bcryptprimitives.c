/*
 * A stand-in for Windows' bcryptprimitives.dll, for running the labs under Wine only.
 *
 * Why: programs built by Rust 1.78 and later get their random numbers (HashMap seeds) from
 * ProcessPrng in bcryptprimitives.dll, which every Windows 10 and 11 has. Debian 12's Wine 8.0
 * does not ship that DLL, so every Rust .exe dies at start-up with "bcryptprimitives.dll not
 * found" before main runs. This file provides the one function, backed by RtlGenRandom
 * (advapi32's SystemFunction036), which Wine does implement.
 *
 * When it can go: as soon as CI's Wine ships bcryptprimitives.dll itself (Wine 9.0 and later
 * do). .ci/wine-smoke checks for it and only installs this stand-in where it is missing.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a ULONG length: fill a large buffer in pieces */
    while (length > 0) {
        ULONG piece = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, piece))
            return FALSE;
        data += piece;
        length -= piece;
    }
    return TRUE;
}
