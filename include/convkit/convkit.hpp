// convkit: one convolution, several algorithms, one exact definition.
// The umbrella header: include this one.
#pragma once

#include <convkit/context.hpp>
#include <convkit/choice.hpp>
#include <convkit/conv.hpp>
#include <convkit/error.hpp>
#include <convkit/export.hpp>
#include <convkit/reference.hpp>
#include <convkit/spec.hpp>
#include <convkit/streaming.hpp>
#include <convkit/tensor.hpp>
#include <convkit/toeplitz.hpp>
#include <convkit/types.hpp>
#include <convkit/version.hpp>
#include <convkit/warning.hpp>
